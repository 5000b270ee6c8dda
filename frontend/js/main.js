// App shell: sign-in state, the current operation, the live stream, navigation and the router.
//
// Adding a screen: create js/views/<name>.js exporting `title` and `default async function render(ctx)`
// (build the DOM with dom.js helpers into ctx.main; use ctx.signal / ctx.onLeave to stop work when the
// officer navigates away; ctx.params holds the path segments after the name, e.g. #/debrief/<id>), add one
// entry to ROUTES below (`label` names it in the menu, `show(ctx)` decides who sees it there,
// `public: true` lets it show before sign-in). Screens are cached by the service worker the first time
// they open; add the file to SHELL in sw.js (and bump VERSION) only if officers need it offline at once.
// Example, for the debrief page: debrief: { load: () => import("./views/debrief.js"), label: "Debrief",
//   show: (c) => c.isCommand || c.role === "auditor" }.
import "./store.js";
import * as api from "./api.js";
import { h, mount, toast, announce } from "./dom.js";
import * as outbox from "./outbox.js";
import * as push from "./push.js";

const store = globalThis.parleyStore;
const COMMAND_ROLES = new Set(["bronze", "gold"]);

const ROUTES = {
  signin: { load: () => import("./views/signin.js"), public: true },
  home: { load: () => import("./views/home.js"), label: "Home", show: (c) => Boolean(c.op) },
  escalate: { load: () => import("./views/escalate.js"), label: "My reports", show: (c) => Boolean(c.op) },
  replies: { load: () => import("./views/replies.js"), label: "Replies", show: (c) => Boolean(c.op) },
  messages: { load: () => import("./views/messages.js"), label: "Messages", show: (c) => Boolean(c.op) },
  briefing: { load: () => import("./views/briefing.js"), label: "Briefing", show: (c) => Boolean(c.op) },
  outbox: { load: () => import("./views/outbox.js"), label: "Waiting to send", show: () => false },
  console: { load: () => import("./views/console.js"), label: "Rumour queue", show: (c) => c.isCommand },
  compose: { load: () => import("./views/compose.js"), label: "Notifications", show: (c) => c.isCommand },
  decisions: { load: () => import("./views/decisions.js"), label: "Decision log",
    show: (c) => c.isCommand || c.role === "auditor" },
  templates: { load: () => import("./views/templates.js"), label: "Templates",
    show: (c) => ["comms", "gold", "bronze", "admin"].includes(c.role) || ["comms", "gold", "bronze"].includes(c.opRole) },
  debrief: { load: () => import("./views/debrief.js"), label: "Debrief", show: (c) => Boolean(c.op) },
  audit: { load: () => import("./views/audit.js"), label: "Audit log", show: (c) => ["auditor", "admin"].includes(c.role) },
  admin: { load: () => import("./views/admin.js"), label: "Users and members",
    show: (c) => c.role === "admin" || c.isCommand },
};

// Links made elsewhere (push payloads open /#/notifications/<id>) land on the right screen for the role.
const ALIASES = { notifications: (c) => (c.isCommand ? "compose" : "messages") };

const state = {
  me: null, // GET /me (cached in IndexedDB so the app starts offline)
  op: null, // the current operation: GET /operations/{id}
  unread: 0,
  events: new EventTarget(), // live stream events, re-dispatched by type (e.g. "escalation.updated")
  stream: null,
  leave: [],
};

const ctx = {
  api,
  outbox,
  push,
  state,
  get main() { return document.getElementById("main"); },
  get me() { return state.me; },
  get op() { return state.op; },
  get role() { return state.me?.role; },
  get opRole() { return state.op?.my_role || state.me?.operations?.find((o) => o.id === state.op?.id)?.role; },
  get isCommand() { return COMMAND_ROLES.has(ctx.opRole); },
  navigate,
  refreshOperation,
  refreshUnread,
  events: state.events,
};

export function navigate(path) {
  const target = `#/${path.replace(/^#?\//, "")}`;
  if (location.hash === target) route();
  else location.hash = target;
}

function defaultRoute() {
  if (!state.me) return "signin";
  if (state.me.role === "admin") return "admin";
  if (state.me.role === "auditor") return "audit";
  if (ctx.isCommand) return "console";
  if (ctx.opRole === "comms" || state.me.role === "comms") return "templates";
  return "home";
}

let routeCounter = 0;
let controller = null;

async function route() {
  const [name = "", ...params] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (location.hash && !location.hash.startsWith("#/")) return; // in-page anchors such as the skip link
  for (const leave of state.leave.splice(0)) leave();
  controller?.abort();
  controller = new AbortController();
  const id = ++routeCounter;
  let routeName = name || defaultRoute();
  if (ALIASES[routeName] && state.me) routeName = ALIASES[routeName](ctx);
  if (!state.me && !ROUTES[routeName]?.public) routeName = "signin";
  if (state.me && routeName === "signin") routeName = defaultRoute();
  if (state.updateReady && ["home", "console", "signin"].includes(routeName)) {
    location.reload();
    return;
  }
  const entry = ROUTES[routeName];
  if (!entry) {
    mount(ctx.main, h("section", { class: "card" }, h("h1", {}, "Not found"),
      h("p", {}, "This screen does not exist. "), h("a", { href: "#/", class: "button" }, "Go home")));
    return;
  }
  renderChrome(routeName);
  const view = await entry.load();
  if (id !== routeCounter) return;
  document.title = `${view.title || "Parley"} · Parley`;
  // Each screen draws into its own element: a screen still loading when the officer moves on draws
  // into a detached element and can neither cover the new screen nor navigate away from it.
  const root = h("div", { class: "view" });
  const signal = controller.signal;
  const viewCtx = Object.create(ctx, {
    main: { value: root },
    params: { value: params },
    signal: { value: signal },
    onLeave: { value: (fn) => (signal.aborted ? fn() : state.leave.push(fn)) },
    navigate: { value: (path) => { if (!signal.aborted) navigate(path); } },
  });
  mount(ctx.main, root);
  try {
    await view.default(viewCtx);
  } catch (error) {
    if (error.name === "AbortError" || signal.aborted) return;
    showError(error);
  }
  if (id === routeCounter) ctx.main.focus({ preventScroll: true });
}

export function showError(error) {
  if (error instanceof api.NetworkError) toast("No signal: this needs the network. Try again when you are back online.", "error");
  else if (error instanceof api.ApiError && error.status === 401) return; // the sign-in screen says why
  else toast(error.message || "Something went wrong.", "error");
}
ctx.showError = showError;

function renderChrome(routeName) {
  const signedIn = Boolean(state.me);
  document.getElementById("topbar").hidden = !signedIn;
  document.getElementById("exercise-banner").hidden = !(signedIn && state.op?.exercise);
  document.getElementById("op-name").textContent = state.op ? state.op.name : state.me ? "No operation" : "";
  const menu = document.getElementById("menu");
  const items = Object.entries(ROUTES).filter(([, r]) => r.label && r.show?.(ctx));
  mount(menu, h("ul", {}, items.map(([key, r]) => h("li", {},
    h("a", { href: `#/${key}`, "aria-current": key === routeName ? "page" : null }, r.label))),
    signedIn && state.me.operations.length > 1 ? h("li", {}, operationPicker()) : null,
    h("li", {}, h("button", { type: "button", class: "link-button", onclick: toggleTheme }, "Switch light / dark")),
    h("li", {}, h("button", { type: "button", class: "link-button", onclick: signOut }, "Sign out"))));
  closeMenu();
}

function operationPicker() {
  const selectNode = h("select", { id: "op-picker", onchange: async (e) => { await selectOperation(e.target.value); navigate(""); } },
    state.me.operations.map((o) => h("option", { value: o.id, selected: o.id === state.op?.id },
      `${o.name}${o.exercise ? " (exercise)" : ""} — ${o.status}`)));
  return h("div", { class: "field" }, h("label", { htmlFor: "op-picker" }, "Operation"), selectNode);
}

function closeMenu() {
  document.getElementById("menu").hidden = true;
  document.getElementById("menu-button").setAttribute("aria-expanded", "false");
}

function toggleTheme() {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === "dark"
    : matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = dark ? "light" : "dark";
  localStorage.setItem("parley-theme", document.documentElement.dataset.theme);
}

// ---- session -----------------------------------------------------------------------------------

async function loadProfile() {
  state.me = await api.get("/me");
  await store.put("kv", state.me, "profile");
}

function pickOperation(operations, preferred) {
  return operations.find((o) => o.id === preferred) || operations.find((o) => o.status === "live")
    || operations.find((o) => o.status === "planned") || operations[0] || null;
}

async function selectOperation(operationId) {
  await store.put("kv", operationId, "operation");
  await refreshOperation(operationId);
  openStream();
  refreshUnread();
}

async function refreshOperation(operationId = state.op?.id) {
  if (!operationId) { state.op = null; return null; }
  try {
    state.op = await api.get(`/operations/${operationId}`);
    await store.put("kv", state.op, "operation-cache");
  } catch (error) {
    if (!(error instanceof api.NetworkError)) throw error;
    // offline start: the last known operation is enough to queue reports against it
    const cached = await store.get("kv", "operation-cache");
    state.op = cached?.id === operationId ? cached : state.me.operations.find((o) => o.id === operationId);
  }
  renderChrome(currentRouteName());
  return state.op;
}

function currentRouteName() {
  return location.hash.replace(/^#\/?/, "").split("/")[0] || defaultRoute();
}

/** After sign-in or on start with a stored session. */
export async function startSession() {
  try {
    await loadProfile();
  } catch (error) {
    if (!(error instanceof api.NetworkError)) throw error;
    state.me = await store.get("kv", "profile");
    if (!state.me) throw error;
    toast("Offline: reports you make now are sent when the signal returns.");
  }
  // what was queued belongs to the officer who queued it: kept across an ended session for them, never
  // sent under someone else's name
  const owner = await store.get("kv", "outbox-owner");
  if (owner && owner !== state.me.id) await outbox.clearAll();
  await store.put("kv", state.me.id, "outbox-owner");
  const operation = pickOperation(state.me.operations, await store.get("kv", "operation"));
  if (operation) await selectOperation(operation.id);
  else state.op = null;
  const reports = await import("./views/escalate.js");
  reports.registerOutboxHandlers(outbox);
  reports.watchLocation();
  outbox.start();
  if (push.permission() === "granted") push.subscribe().catch(() => {});
  startHeartbeat();
}
ctx.startSession = startSession;

async function signOut() {
  const waiting = await outbox.waitingCount();
  if (waiting && !confirm(`${waiting} item(s) are still waiting to be sent and will be lost if you sign out. Sign out anyway?`)) return;
  await api.signOut();
  await clearLocal({ keepOutbox: false });
  await push.unsubscribe().catch(() => {});
  toast("Signed out.");
  navigate("signin");
}

/** Forget the signed-in person: profile, operation, saved templates, badge. The outbox survives only an
 * ended session (revoked, expired), for the same officer's next sign-in. */
async function clearLocal({ keepOutbox }) {
  // The screen on show stops first: its listeners, timers and loads must not run on with no user or operation.
  for (const leave of state.leave.splice(0)) leave();
  controller?.abort();
  state.stream?.close();
  state.stream = null;
  state.me = null;
  state.op = null;
  clearInterval(heartbeat);
  const owner = await store.get("kv", "outbox-owner").catch(() => null);
  await store.clear("kv").catch(() => {});
  if (keepOutbox && owner) await store.put("kv", owner, "outbox-owner").catch(() => {});
  if (!keepOutbox) await outbox.clearAll().catch(() => {});
  push.setBadge(0);
}

api.onSessionEnded(async (message) => {
  await clearLocal({ keepOutbox: true });
  sessionStorage.setItem("parley-signin-message", message || "Your session has ended. Sign in again.");
  navigate("signin");
});

// ---- live ------------------------------------------------------------------------------------

function openStream() {
  state.stream?.close();
  if (!state.op) return;
  state.stream = api.openStream(`/operations/${state.op.id}/stream`, {
    onEvent: (event) => {
      state.events.dispatchEvent(new CustomEvent(event.type, { detail: event.data }));
      if (event.type.startsWith("notification.")) refreshUnread();
      if (event.type === "escalation.updated") tellReporter(event.data);
    },
    onState: (s) => state.events.dispatchEvent(new CustomEvent("stream-state", { detail: s })),
  });
}

/** A ruling on the officer's own report is news wherever they are in the app. */
function tellReporter(escalation) {
  if (!escalation || String(escalation.reporter_id) !== String(state.me?.id) || escalation.status !== "resolved") return;
  if (currentRouteName() === "escalate") return; // the list shows it already
  const outcome = { false: "false", true: "true", unverified: "unverified", duplicate: "a duplicate" }[escalation.outcome];
  toast(`Bronze has ruled on your report${outcome ? `: ${outcome}` : ""}. See My reports.`);
}

let heartbeat = null;
function startHeartbeat() {
  clearInterval(heartbeat);
  // a revoked phone learns it within 30 s even when idle; an expired token is refreshed on the way
  heartbeat = setInterval(() => {
    if (!state.me || document.hidden) return;
    api.get("/me").then((me) => { state.me = me; }).catch(() => {});
  }, 30000);
}

/** Unread = messages in the inbox without my "opened" or "acknowledged" receipt. */
export async function refreshUnread() {
  if (!state.op) return 0;
  try {
    const answer = await api.get(`/operations/${state.op.id}/notifications`);
    const items = Array.isArray(answer) ? answer : answer.items || answer.notifications || [];
    state.unread = items.filter(isUnread).length;
  } catch {
    return state.unread;
  }
  push.setBadge(state.unread);
  state.events.dispatchEvent(new CustomEvent("unread", { detail: state.unread }));
  return state.unread;
}

export function isUnread(message) {
  const receipt = message.my_receipt || message.receipt || message;
  return !(receipt.acknowledged_at || receipt.opened_at || receipt.state === "acknowledged" || receipt.state === "opened"
    || message.acknowledged || message.opened);
}
ctx.isUnread = isUnread;

// ---- chrome ------------------------------------------------------------------------------------

/** Automatic receipts (delivered, opened) are sent quietly; what the officer did is counted. */
const officerAction = (item) => !(item.kind === "receipt" && item.body?.event !== "acknowledged");

async function updateOutboxChip(items) {
  const list = (items || (await outbox.list())).filter(officerAction);
  const chip = document.getElementById("outbox-count");
  const rejected = list.filter((i) => i.state === "rejected").length;
  chip.hidden = list.length === 0;
  chip.textContent = rejected ? `${rejected} not accepted` : `${list.length} waiting`;
  chip.setAttribute("aria-label", rejected
    ? `${rejected} item(s) not accepted by the server: open to see why`
    : `${list.length} item(s) waiting for signal`);
  chip.classList.toggle("chip-error", rejected > 0);
}

function updateNetwork() {
  document.getElementById("net-state").hidden = navigator.onLine;
  announce(navigator.onLine ? "Back online" : "Offline: actions are queued");
}

function boot() {
  const theme = localStorage.getItem("parley-theme");
  if (theme) document.documentElement.dataset.theme = theme;
  document.getElementById("menu-button").addEventListener("click", () => {
    const menu = document.getElementById("menu");
    menu.hidden = !menu.hidden;
    document.getElementById("menu-button").setAttribute("aria-expanded", String(!menu.hidden));
    if (!menu.hidden) menu.querySelector("a, button, select")?.focus();
  });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeMenu(); });
  window.addEventListener("hashchange", route);
  window.addEventListener("online", updateNetwork);
  window.addEventListener("offline", updateNetwork);
  document.getElementById("net-state").hidden = navigator.onLine;
  outbox.onChange(updateOutboxChip);
  push.onWorkerMessage((message) => {
    if (message.type === "open" && message.url) location.href = message.url;
    if (message.type === "push" || message.type === "acknowledged") refreshUnread();
    if (message.type === "push") state.events.dispatchEvent(new CustomEvent("push", { detail: message }));
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.me) { outbox.flush(); refreshUnread(); }
  });
  // A new version's worker takes over at once (sw.js skips waiting); the old page keeps running old code,
  // so it reloads at the next safe moment: when the officer is back on a home screen.
  let hadController = Boolean(navigator.serviceWorker?.controller);
  navigator.serviceWorker?.addEventListener("controllerchange", () => {
    if (hadController) state.updateReady = true;
    hadController = true;
  });
  push.registerWorker();
}

async function start() {
  boot();
  if (await api.hasStoredSession()) {
    try {
      await startSession();
    } catch (error) {
      state.me = null;
      if (!(error instanceof api.ApiError && error.status === 401)) showError(error);
    }
  }
  updateOutboxChip();
  route();
}

start();
