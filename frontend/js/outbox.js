// The outbox: what the officer did while the signal was gone. Escalations, template uses, receipts and
// acknowledgements are written to IndexedDB first (keyed by their client_id, the server's idempotency
// key) and sent in order when the network returns: on `online`, on app start, on a Background Sync
// wake-up, and on a backoff timer. A 2xx removes the item; a 4xx keeps it, marked rejected with the
// server's reason, until the officer has seen and dismissed it; anything else retries with backoff.
import "./store.js";
import { ApiError, NetworkError, request } from "./api.js";

const store = globalThis.parleyStore;
const listeners = new Set();
const sentHandlers = new Map();
let flushing = null;
let timer = null;
let sequence = 0;

/** Called with (item, answer) after the server accepted an item of that kind. */
export function onSent(kind, handler) {
  sentHandlers.set(kind, handler);
}

export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

async function changed() {
  const items = await list();
  for (const listener of listeners) listener(items);
}

export const list = () => store.all("outbox");

/** How many items are still waiting (rejected ones count: the officer has to look at them). */
export async function waitingCount() {
  return (await list()).length;
}

/**
 * Queue a request. item: {client_id, kind, method, path, body?, label, depends_on?, hold_until?}.
 * `path` may contain "{escalation:<client_id>}", resolved once that report has its server id.
 */
export async function enqueue(item) {
  const record = {
    method: "POST",
    auth: true,
    ...item,
    seq: Date.now() * 1000 + (sequence++ % 1000),
    created_at: new Date().toISOString(),
    attempts: 0,
    next_at: 0,
    state: "waiting",
    error: null,
  };
  await store.put("outbox", record);
  await changed();
  flushSoon();
  return record;
}

export async function update(clientId, changes) {
  const item = await store.get("outbox", clientId);
  if (!item) return null;
  Object.assign(item, changes);
  await store.put("outbox", item);
  await changed();
  return item;
}

export async function dismiss(clientId) {
  await store.delete("outbox", clientId);
  await changed();
}

export async function retry(clientId) {
  await update(clientId, { state: "waiting", error: null, next_at: 0 });
  flushSoon();
}

function backoffMs(attempts) {
  // 2 s, 4 s, 8 s ... capped at 5 minutes, with jitter so a crowd of phones does not retry in step
  return Math.min(2000 * 2 ** (attempts - 1), 300000) * (0.75 + Math.random() * 0.5);
}

async function resolvePath(item) {
  const match = /\{escalation:([^}]+)\}/.exec(item.path);
  if (!match) return item.path;
  const report = await store.get("reports", match[1]);
  return report?.server_id ? item.path.replace(match[0], report.server_id) : null;
}

async function send(item, path) {
  const options = { signal: AbortSignal.timeout ? AbortSignal.timeout(30000) : undefined, auth: item.auth !== false };
  if (item.form) {
    const form = new FormData();
    for (const [key, value] of Object.entries(item.form)) {
      if (value instanceof Blob) form.append(key, value, value.name || "photo.jpg");
      else form.append(key, value);
    }
    options.form = form;
  } else if (item.body !== undefined) {
    options.body = item.body;
  }
  return request(item.method, path, options);
}

async function flushNow() {
  const now = Date.now();
  const done = new Set();
  for (const item of await list()) {
    if (item.state === "rejected") continue;
    if (item.hold_until && item.hold_until > now) continue;
    if (item.depends_on && !done.has(item.depends_on) && (await store.get("outbox", item.depends_on))) continue;
    if (item.next_at > now) break; // keep the order: later items wait behind one that is backing off
    const path = await resolvePath(item);
    if (path === null) continue;
    try {
      const answer = await send(item, path);
      await store.delete("outbox", item.client_id);
      done.add(item.client_id);
      await sentHandlers.get(item.kind)?.(item, answer);
      await changed();
    } catch (error) {
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && ![401, 408, 429].includes(error.status)) {
        await update(item.client_id, { state: "rejected", error: error.message, status: error.status });
        continue;
      }
      const attempts = item.attempts + 1;
      const retryAfter = error instanceof ApiError && error.status === 429 ? 1000 * Number(error.problem.retry_after || 30) : 0;
      await update(item.client_id, { attempts, next_at: Date.now() + Math.max(backoffMs(attempts), retryAfter),
        error: error instanceof NetworkError ? null : error.message });
      break;
    }
  }
  schedule();
}

async function schedule() {
  clearTimeout(timer);
  const items = (await list()).filter((i) => i.state === "waiting");
  if (!items.length || !navigator.onLine) return;
  const due = Math.min(...items.map((i) => Math.max(i.next_at || 0, i.hold_until || 0)));
  timer = setTimeout(flush, Math.max(due - Date.now(), 250));
}

/** Send what can be sent now; concurrent calls share one run. */
export function flush() {
  if (!flushing) {
    flushing = flushNow().catch((error) => console.error("outbox", error)).finally(() => { flushing = null; });
  }
  return flushing;
}

function flushSoon() {
  setTimeout(flush, 0);
  registerSync();
}

async function registerSync() {
  try {
    const registration = await navigator.serviceWorker?.ready;
    await registration?.sync?.register("parley-outbox");
  } catch { /* Background Sync is a bonus: `online` and app start still flush */ }
}

/** Forget everything queued (sign-out after the officer confirmed). */
export async function clearAll() {
  await store.clear("outbox");
  await store.clear("reports");
  await changed();
}

let started = false;
export function start() {
  if (started) { flush(); return; }
  started = true;
  window.addEventListener("online", () => {
    // the network is back: whatever was backing off goes now
    list().then(async (items) => {
      for (const item of items) if (item.state === "waiting" && item.next_at) await update(item.client_id, { next_at: 0 });
      flush();
    });
  });
  navigator.serviceWorker?.addEventListener("message", (event) => {
    if (event.data?.type === "flush-outbox") flush();
    if (event.data?.type === "outbox-changed") changed();
  });
  flush();
}
