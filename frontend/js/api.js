// The HTTP client: tokens, refresh, problem+json errors, and the live stream.
//
// Where the tokens live (decided for a shift-long sign-in on a phone):
// - the access token (15 min) only in this module's memory: never on disk, gone when the app closes;
// - the refresh token in IndexedDB, so a phone that kills the app in a pocket does not sign the officer
//   out mid-shift. It rotates on every use (the server revokes the whole session if a spent one comes
//   back) and the server ends the session after 12 h idle. Logout or a revoked session deletes it.
// Refreshing is serialised across tabs with the Web Locks API, so two tabs never spend the same token.
import "./store.js";

const store = globalThis.parleyStore;
const BASE = "/api/v1";
let accessToken = null;
let accessExpiresAt = 0;
let currentUser = null;
const sessionEndedListeners = new Set();

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `Request failed (${status})`);
    this.status = status;
    this.problem = problem || {};
  }
  /** Field errors of a 422, as readable lines. */
  get fieldErrors() {
    return (this.problem.errors || []).map((e) => {
      const where = Array.isArray(e.loc) ? e.loc.filter((p) => p !== "body").join(".") : e.field || "";
      return where ? `${where}: ${e.msg || e.message}` : e.msg || e.message || String(e);
    });
  }
}

/** No connection (fetch itself failed): the caller should queue or show "offline", not an error. */
export class NetworkError extends Error {}

export const isSignedIn = () => accessToken !== null;
export const user = () => currentUser;

export function onSessionEnded(listener) {
  sessionEndedListeners.add(listener);
  return () => sessionEndedListeners.delete(listener);
}

function setTokens(answer) {
  accessToken = answer.access_token;
  // renew a minute early so a request never leaves with a token about to die
  accessExpiresAt = Date.now() + (answer.expires_in - 60) * 1000;
  currentUser = answer.user;
}

async function endSession(message) {
  const wasSignedIn = accessToken !== null || (await store.get("kv", "refresh").catch(() => null));
  accessToken = null;
  accessExpiresAt = 0;
  currentUser = null;
  await store.delete("kv", "refresh").catch(() => {});
  if (wasSignedIn) for (const listener of sessionEndedListeners) listener(message);
}

async function parseProblem(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText, status: response.status };
  }
}

async function rawFetch(url, init) {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new NetworkError("No connection");
  }
}

export async function signIn(serviceNumber, password) {
  const response = await rawFetch(`${BASE}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ service_number: serviceNumber, password, device_name: deviceName() }),
  });
  if (!response.ok) throw new ApiError(response.status, await parseProblem(response));
  const answer = await response.json();
  setTokens(answer);
  await store.put("kv", answer.refresh_token, "refresh");
  return answer.user;
}

function deviceName() {
  const ua = navigator.userAgent;
  const platform = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows"
    : /Mac/.test(ua) ? "Mac" : /Linux/.test(ua) ? "Linux" : "browser";
  return `Parley app (${platform})`;
}

async function withRefreshLock(task) {
  if (navigator.locks) return navigator.locks.request("parley-refresh", task);
  return task();
}

/** Uses the stored refresh token to get a new pair. Returns false when there is no session to resume. */
export async function refresh() {
  return withRefreshLock(async () => {
    const token = await store.get("kv", "refresh");
    if (!token) return false;
    const response = await rawFetch(`${BASE}/auth/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    });
    if (response.status === 401 || response.status === 422) {
      const problem = await parseProblem(response);
      await endSession(problem.detail || "Your session has ended. Sign in again.");
      return false;
    }
    if (!response.ok) throw new ApiError(response.status, await parseProblem(response));
    const answer = await response.json();
    setTokens(answer);
    await store.put("kv", answer.refresh_token, "refresh");
    return true;
  });
}

/** Is there a sign-in to resume (a refresh token on this device)? */
export async function hasStoredSession() {
  return Boolean(await store.get("kv", "refresh").catch(() => null));
}

async function ensureFreshToken() {
  if (accessToken && Date.now() < accessExpiresAt) return;
  const ok = await refresh();
  if (!ok) throw new ApiError(401, { detail: "Sign in first." });
}

/**
 * request("POST", "/operations/x/escalations", {body}) -> parsed JSON (or null for 204).
 * Options: body (JSON), form (FormData), headers, signal, raw (return the Response), auth (default true).
 */
export async function request(method, path, options = {}) {
  const { body, form, signal, raw = false, auth = true } = options;
  const url = path.startsWith("/api/") ? path : `${BASE}${path}`;
  const send = async () => {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth) headers.Authorization = `Bearer ${accessToken}`;
    return rawFetch(url, { method, headers, signal, body: form ?? (body !== undefined ? JSON.stringify(body) : undefined) });
  };
  if (auth) await ensureFreshToken();
  let response = await send();
  if (auth && response.status === 401) {
    // the access token may have died early (clock skew) or the session was revoked: one refresh decides
    if (await refresh()) response = await send();
    else throw new ApiError(401, { detail: "Your session has ended. Sign in again." });
    if (response.status === 401) {
      const problem = await parseProblem(response);
      await endSession(problem.detail);
      throw new ApiError(401, problem);
    }
  }
  if (!response.ok) throw new ApiError(response.status, await parseProblem(response));
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path, options) => request("GET", path, options);
export const post = (path, body, options = {}) => request("POST", path, { ...options, body });

/** Forgets every token on this device first, then ends the session on the server (best effort; keepalive
 * lets the request finish even if the app is closed right after). */
export async function signOut() {
  const token = accessToken;
  accessToken = null;
  accessExpiresAt = 0;
  currentUser = null;
  await store.delete("kv", "refresh").catch(() => {});
  if (token) {
    await rawFetch(`${BASE}/auth/logout`, { method: "POST", keepalive: true, headers: { Authorization: `Bearer ${token}` } })
      .catch(() => {});
  }
}

/**
 * The operation's live stream (Server-Sent Events) read with fetch(), because EventSource cannot send
 * the Authorization header. Reconnects with backoff and Last-Event-ID so nothing is missed in between.
 * onEvent({type, data, id}); onState("live" | "reconnecting"). Returns {close()}.
 */
export function openStream(path, { onEvent, onState = () => {} }) {
  const controller = new AbortController();
  let lastEventId = null;
  let retryMs = 1000;
  let closed = false;

  async function readOnce() {
    const headers = { Accept: "text/event-stream" };
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    const response = await request("GET", path, { raw: true, headers, signal: controller.signal });
    onState("live");
    retryMs = 1000;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = { type: "message", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (event.data.length) {
            if (event.id !== null) lastEventId = event.id;
            let data = event.data.join("\n");
            try { data = JSON.parse(data); } catch { /* plain text event */ }
            try { onEvent({ type: event.type, data, id: event.id }); } catch (error) { console.error(error); }
          }
          event = { type: "message", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const fieldValue = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (name === "event") event.type = fieldValue;
        else if (name === "data") event.data.push(fieldValue);
        else if (name === "id") event.id = fieldValue;
        else if (name === "retry" && /^\d+$/.test(fieldValue)) retryMs = Number(fieldValue);
      }
    }
  }

  (async () => {
    while (!closed) {
      try {
        await readOnce();
      } catch (error) {
        if (closed || error.name === "AbortError") return;
        if (error instanceof ApiError && (error.status === 401 || error.status === 403 || error.status === 404)) {
          onState("closed");
          return;
        }
      }
      if (closed) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, retryMs + Math.random() * 500));
      retryMs = Math.min(retryMs * 2, 30000);
    }
  })();

  return {
    close() {
      closed = true;
      controller.abort();
    },
  };
}
