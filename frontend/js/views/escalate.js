// Rumour escalation. One tap queues the report at once (time and, when allowed, location); the sheet
// that follows lets the officer add text, a category, a link and a photo while the report waits a few
// seconds. "My reports" shows each one: waiting for signal, then its status, then Bronze's ruling with
// the reply to use.
import "../store.js";
import { h, mount, field, select, badge, timeNode, newId, LABELS, toast, announce } from "../dom.js";

export const title = "Rumour reports";
const store = globalThis.parleyStore;
const HOLD_MS = 10000; // time to add details before the report leaves on its own
const TYPING_HOLD_MS = 120000;
let lastPosition = null;

/** Keep a recent fix when the officer has already allowed location (never prompts by itself). */
export async function watchLocation() {
  try {
    const status = await navigator.permissions?.query({ name: "geolocation" });
    if (status?.state !== "granted") return;
    navigator.geolocation.watchPosition((p) => { lastPosition = p; }, () => {},
      { enableHighAccuracy: true, maximumAge: 60000 });
  } catch { /* no Permissions API: the sheet offers a button */ }
}

function positionFields(position) {
  if (!position) return {};
  return { lat: Number(position.coords.latitude.toFixed(6)), lon: Number(position.coords.longitude.toFixed(6)),
    accuracy_m: Math.round(position.coords.accuracy) };
}

/** The one tap: queue now, details later. Returns the client id. */
export async function escalateNow(ctx) {
  const clientId = newId();
  const body = { client_id: clientId, observed_at: new Date().toISOString(), ...positionFields(lastPosition) };
  await store.put("reports", { client_id: clientId, operation_id: ctx.op.id, body, created_at: body.observed_at });
  await ctx.outbox.enqueue({ client_id: clientId, kind: "escalation", label: "Rumour report", body,
    path: `/api/v1/operations/${ctx.op.id}/escalations`, hold_until: Date.now() + HOLD_MS });
  announce("Rumour report queued");
  return clientId;
}

/** When the server has a report: remember its id and state. */
export function registerOutboxHandlers(outbox) {
  outbox.onSent("escalation", async (item, answer) => {
    const report = (await store.get("reports", item.client_id)) || { client_id: item.client_id, body: item.body };
    await store.put("reports", { ...report, server_id: answer.id, server: answer });
  });
}

export default async function render(ctx) {
  if (!ctx.op) return ctx.navigate("home");
  const [clientId] = ctx.params;
  if (clientId) return renderSheet(ctx, clientId);
  return renderList(ctx);
}

async function renderSheet(ctx, clientId) {
  const item = await store.get("outbox", clientId);
  const report = await store.get("reports", clientId);
  if (!item) {
    // already sent (or opened from history): show it in the list
    return ctx.navigate("escalate");
  }
  const body = { ...item.body };
  const summary = h("textarea", { name: "summary", maxLength: 2000, rows: 3, placeholder: "What is being said, and where?" });
  const category = select([["", "Choose…"], ...Object.entries(LABELS.categories)], "", { name: "category" });
  const link = h("input", { type: "url", name: "source_url", inputMode: "url", placeholder: "https://…", maxLength: 2000 });
  const photo = h("input", { type: "file", name: "photo", accept: "image/jpeg,image/png,image/webp", capture: "environment" });
  const countdown = h("p", { role: "status", class: "muted", id: "hold-status" });
  const locationLine = h("p", { class: "muted" }, body.lat !== undefined
    ? `Location attached (±${body.accuracy_m} m).` : "No location attached.");
  const locate = h("button", { type: "button", class: "button button-secondary", hidden: body.lat !== undefined,
    onclick: () => {
      locate.disabled = true;
      navigator.geolocation.getCurrentPosition(async (position) => {
        lastPosition = position;
        Object.assign(body, positionFields(position));
        locationLine.textContent = `Location attached (±${body.accuracy_m} m).`;
        locate.hidden = true;
        await save(false);
        watchLocation();
      }, () => { locationLine.textContent = "Location not available."; locate.disabled = false; },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    } }, "Add my location");

  let holdUntil = item.hold_until;
  let done = false;
  const tick = setInterval(() => {
    const left = Math.max(0, Math.ceil((holdUntil - Date.now()) / 1000));
    countdown.textContent = left > 0 && left <= HOLD_MS / 1000 ? `Sending to Bronze in ${left} s.` : left > 0
      ? "Waiting for you to press Send." : navigator.onLine ? "On its way to Bronze."
        : "Waiting for signal: it goes as soon as there is one.";
    if (left === 0 && !done) finish();
  }, 500);

  async function save(extend) {
    const text = summary.value.trim();
    Object.assign(body, { summary: text || undefined, category: category.value || undefined,
      source_url: link.value.trim() || undefined });
    for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
    if (extend && !done) holdUntil = Math.max(holdUntil, Date.now() + TYPING_HOLD_MS);
    const still = await ctx.outbox.update(clientId, { body, hold_until: holdUntil });
    if (report) await store.put("reports", { ...report, body });
    return still;
  }

  async function finish() {
    if (done) return;
    done = true;
    clearInterval(tick);
    const file = photo.files?.[0];
    if (file) {
      await ctx.outbox.enqueue({ client_id: `${clientId}:photo`, kind: "attachment", label: "Photo", depends_on: clientId,
        path: `/api/v1/escalations/{escalation:${clientId}}/attachments`, form: { file } });
    }
    holdUntil = 0;
    await ctx.outbox.update(clientId, { hold_until: 0 });
    ctx.outbox.flush();
  }

  for (const control of [summary, category, link, photo]) control.addEventListener("input", () => save(true));
  // leaving the sheet sends the report with what was typed so far
  ctx.onLeave(() => { if (!done) save(false).then(() => finish()); });

  mount(ctx.main,
    h("h1", {}, "Rumour reported"),
    h("section", { class: "card", "aria-labelledby": "queued-h" },
      h("h2", { id: "queued-h" }, badge("Queued", "warn"), " ", timeNode(body.observed_at)),
      h("p", {}, "It goes to Bronze in a moment. Add what you know, or press Send now."),
      countdown),
    h("form", { class: "card", onsubmit: async (event) => {
      event.preventDefault();
      if (link.value && !link.checkValidity()) { link.reportValidity(); return; }
      await save(false);
      await finish();
      toast(navigator.onLine ? "Sent to Bronze." : "Saved: it goes when you have signal.");
      ctx.navigate("escalate");
    } },
    h("h2", {}, "Details (optional)"),
    field("What is the rumour?", summary),
    field("Category", category),
    field("Link to the post", link, "Paste the address of the post or video, if there is one."),
    field("Photo", photo, "Take a photo or pick a screenshot. Location data is removed by the server."),
    locationLine, locate,
    h("div", { class: "section-actions" },
      h("button", { class: "button", type: "submit", id: "send-report" }, "Send now"))));
}

function stateOf(report, queued) {
  if (queued?.state === "rejected") return { text: `Not accepted: ${queued.error}`, kind: "urgent" };
  if (queued) return { text: queued.hold_until > Date.now() ? "Queued" : "Waiting for signal", kind: "warn" };
  const server = report.server || {};
  if (server.status === "resolved") return { text: `Ruled: ${LABELS.outcomes[server.outcome] || server.outcome || "resolved"}`, kind: "ok" };
  return { text: LABELS.status[server.status] || "Sent", kind: "info" };
}

async function renderList(ctx) {
  const listNode = h("ul", { class: "list", id: "reports" });
  const draw = async () => {
    const queued = new Map((await ctx.outbox.list()).map((i) => [i.client_id, i]));
    const stored = await store.all("reports");
    if (ctx.signal.aborted) return; // left meanwhile (the session may have ended: no operation any more)
    const reports = stored.filter((r) => r.operation_id === ctx.op.id || r.server?.operation_id === ctx.op.id);
    reports.sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
    mount(listNode, reports.length ? reports.map((report) => reportCard(ctx, report, queued.get(report.client_id)))
      : h("li", { class: "empty" }, "You have not reported anything in this operation."));
  };
  const sync = async () => {
    if (ctx.signal.aborted) return;
    try {
      const answer = await ctx.api.get(`/operations/${ctx.op.id}/escalations`, { signal: ctx.signal });
      const items = Array.isArray(answer) ? answer : answer.items || answer.escalations || [];
      for (const server of items) {
        if (!server.client_id) continue;
        const local = await store.get("reports", server.client_id);
        await store.put("reports", { ...(local || {}), client_id: server.client_id, operation_id: server.operation_id,
          created_at: local?.created_at || server.observed_at || server.created_at, body: local?.body || server,
          server_id: server.id, server });
      }
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!(error instanceof ctx.api.NetworkError)) ctx.showError(error);
    }
    await draw();
  };
  const onEvent = () => sync();
  for (const type of ["escalation.created", "escalation.updated"]) {
    ctx.events.addEventListener(type, onEvent);
    ctx.onLeave(() => ctx.events.removeEventListener(type, onEvent));
  }
  ctx.onLeave(ctx.outbox.onChange(() => draw()));
  const poll = setInterval(sync, 30000);
  ctx.onLeave(() => clearInterval(poll));
  mount(ctx.main, h("h1", {}, "My rumour reports"),
    h("p", {}, h("a", { href: "#/home" }, "Back to home")), listNode);
  await draw();
  await sync();
}

function reportCard(ctx, report, queued) {
  const body = report.server || report.body || {};
  const state = stateOf(report, queued);
  const server = report.server || {};
  return h("li", { class: ["card", state.kind === "urgent" && "urgent"], dataset: { clientId: report.client_id } },
    h("div", { class: "row-between" },
      h("strong", {}, body.summary || (body.category ? LABELS.categories[body.category] : "Rumour report")),
      h("span", { class: "report-state" }, badge(state.text, state.kind))),
    h("p", { class: "muted" }, "Seen ", timeNode(body.observed_at || report.created_at),
      body.category ? ` · ${LABELS.categories[body.category] || body.category}` : ""),
    server.status === "resolved" ? ruling(ctx, server) : null,
    queued?.state === "rejected" ? h("div", { class: "row" },
      h("button", { class: "button button-secondary", type: "button", onclick: () => ctx.outbox.retry(report.client_id) }, "Try again"),
      h("button", { class: "button button-secondary", type: "button", onclick: async () => {
        await ctx.outbox.dismiss(report.client_id);
        await store.delete("reports", report.client_id);
      } }, "Discard")) : null);
}

function ruling(ctx, server) {
  return h("div", { class: "ruling stack" },
    h("p", {}, h("strong", {}, "Bronze's ruling: "), LABELS.outcomes[server.outcome] || server.outcome || "Resolved"),
    server.ruling_note ? h("p", { class: "prewrap" }, server.ruling_note) : null,
    server.counter_template_id
      ? h("a", { class: "button", href: `#/replies/${server.counter_template_id}` }, "Use the suggested reply")
      : null);
}
