// DOM helpers. Everything from the server enters the page through these (textContent and properties),
// never through innerHTML, so a template body or a rumour's text can never become markup or script.

const BOOLEAN_PROPS = new Set(["hidden", "disabled", "checked", "selected", "required", "multiple", "readOnly",
  "autofocus", "open"]);
const PROPS = new Set(["value", "type", "name", "id", "htmlFor", "min", "max", "maxLength", "minLength", "step",
  "placeholder", "autocomplete", "inputMode", "accept", "capture", "href", "src", "alt", "rows", "tabIndex",
  "download", "target", "rel", "pattern", "title", "lang", "dir", "spellcheck", "enterKeyHint"]);

/** h("button", {class: "big", onclick: fn, "aria-label": "x"}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (BOOLEAN_PROPS.has(key)) node[key] = Boolean(value);
    else if (PROPS.has(key)) node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace a node's content. */
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A labelled form field; the label is a real <label for>, so screen readers announce it. */
let fieldCounter = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++fieldCounter}`;
  control.id = id;
  const hintNode = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { htmlFor: id }, label), control, hintNode);
}

export function select(options, value, attrs = {}) {
  return h("select", attrs, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

/** Polite announcement for screen readers (the live region lives in index.html). */
export function announce(message) {
  const region = document.getElementById("live");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => { region.textContent = message; }, 50);
}

/** A short message at the bottom of the screen; errors stay until dismissed. */
export function toast(message, kind = "info") {
  const host = document.getElementById("toasts");
  const close = h("button", { class: "toast-close", "aria-label": "Dismiss message", type: "button" }, "×");
  const node = h("div", { class: ["toast", `toast-${kind}`], role: kind === "error" ? "alert" : "status" },
    h("span", {}, message), close);
  close.addEventListener("click", () => node.remove());
  host.append(node);
  if (kind !== "error") setTimeout(() => node.remove(), 5000);
  return node;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Server times are UTC ISO 8601; officers read local time. */
export function time(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date();
  return date.toDateString() === today.toDateString() ? timeFormat.format(date) : dateTimeFormat.format(date);
}

export function timeNode(iso) {
  return h("time", { datetime: iso }, time(iso));
}

export function badge(text, kind = "") {
  return h("span", { class: ["badge", kind && `badge-${kind}`] }, text);
}

/** Loading placeholder with an accessible busy state. */
export function loading(label = "Loading…") {
  return h("p", { class: "loading", role: "status", "aria-busy": "true" }, label);
}

/** The same, as a list item, for lists that are still loading (a list may only hold <li>). */
export function loadingItem(label = "Loading…") {
  // the status role sits on a span inside the <li>: on the <li> itself it would stop being a list item,
  // and a list with a non-item child is malformed for screen readers while it loads
  return h("li", { class: "loading" }, h("span", { role: "status", "aria-busy": "true" }, label));
}

export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const LABELS = {
  categories: { violence: "Violence", disorder: "Disorder", police_action: "Police action",
    community_tension: "Community tension", transport: "Transport", other: "Other" },
  outcomes: { false: "False", true: "True", unverified: "Unverified", duplicate: "Duplicate" },
  status: { new: "New", acknowledged: "Acknowledged", investigating: "Investigating", resolved: "Resolved" },
  channels: { social_reply: "Social media reply", in_person: "In person", loudhailer: "Loudhailer" },
};
