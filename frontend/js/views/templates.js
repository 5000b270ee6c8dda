// Comms and Gold: write templates with a live preview of their slots, submit them, approve or reject
// others' (never your own: the server enforces four eyes), and compare versions and translations.
// Routes: #/templates (library), #/templates/queue (waiting for approval), #/templates/new, #/templates/<id>.
import { h, mount, field, select, badge, timeNode, LABELS, loading } from "../dom.js";
import { directionOf, renderLocally } from "./replies.js";

export const title = "Templates";
const CATEGORIES = ["reassurance", "rumour_rebuttal", "information", "safety", "road_closures"];
const STATUS_KIND = { draft: "", pending: "warn", approved: "ok", retired: "", rejected: "urgent" };

export default async function render(ctx) {
  const [id] = ctx.params;
  const tabs = h("nav", { class: "row", "aria-label": "Template screens" },
    h("a", { class: "button button-secondary", href: "#/templates", "aria-current": !id ? "page" : null }, "Library"),
    h("a", { class: "button button-secondary", href: "#/templates/queue", "aria-current": id === "queue" ? "page" : null }, "Waiting for approval"),
    h("a", { class: "button", href: "#/templates/new", "aria-current": id === "new" ? "page" : null }, "New template"));
  mount(ctx.main, h("h1", {}, "Templates"), tabs, loading());
  if (id === "new") return mount(ctx.main, h("h1", {}, "New template"), tabs, editor(ctx, null));
  if (id && id !== "queue") return renderDetail(ctx, id, tabs);
  const path = ctx.op ? `/operations/${ctx.op.id}/templates` : "/templates";
  const items = await ctx.api.get(id === "queue" ? `${path}?status=pending` : path, { signal: ctx.signal });
  const shown = id === "queue" ? items.filter((t) => t.status === "pending" || t.pending_version) : items;
  mount(ctx.main, h("h1", {}, id === "queue" ? "Waiting for approval" : "Templates"), tabs,
    h("ul", { class: "list", id: "template-admin-list" }, shown.length ? shown.map((t) => h("li", {},
      h("a", { class: "card tile-link", href: `#/templates/${t.id}` },
        h("span", { class: "row-between" }, h("strong", { lang: t.language, dir: directionOf(t) }, t.title),
          h("span", { class: "row" }, badge(t.status, STATUS_KIND[t.status]), t.pending_version ? badge("new version pending", "warn") : null,
            badge(t.language.toUpperCase(), "info"))),
        h("span", { class: "muted" }, `${t.category.replace(/_/g, " ")} · ${LABELS.channels[t.channel] || t.channel} · v${t.version_number}`))))
      : h("li", { class: "empty" }, id === "queue" ? "Nothing waits for approval." : "No templates yet.")));
}

function slotRow(slot = {}, onChange) {
  const name = h("input", { name: "slot_name", value: slot.name || "", pattern: "[a-z][a-z0-9_]{0,31}", required: true, autocomplete: "off" });
  const kind = select([["text", "Short text"], ["choice", "Choice"]], slot.kind || "text", { name: "slot_kind" });
  const label = h("input", { name: "slot_label", value: slot.label || "", maxLength: 80 });
  const choices = h("input", { name: "slot_choices", value: (slot.choices || []).join(", "), placeholder: "Comma-separated" });
  const maxLength = h("input", { name: "slot_max", type: "number", min: 1, max: 500, value: slot.max_length || 80 });
  const choicesField = field("Choices", choices);
  const maxField = field("Longest answer (characters)", maxLength);
  const row = h("fieldset", { class: "card slot-row" }, h("legend", {}, "Slot"),
    h("div", { class: "grid-2" }, field("Name (as in {name})", name), field("Kind", kind), field("Label shown to officers", label), choicesField, maxField),
    h("button", { type: "button", class: "button button-secondary", onclick: () => { row.remove(); onChange(); } }, "Remove slot"));
  const showKind = () => { choicesField.hidden = kind.value !== "choice"; maxField.hidden = kind.value !== "text"; };
  kind.addEventListener("change", showKind);
  row.addEventListener("input", onChange);
  showKind();
  row.read = () => {
    const out = { name: name.value.trim(), kind: kind.value };
    if (label.value.trim()) out.label = label.value.trim();
    if (kind.value === "choice") out.choices = choices.value.split(",").map((c) => c.trim()).filter(Boolean);
    else out.max_length = Number(maxLength.value) || 80;
    return out;
  };
  return row;
}

/** The editor: a new template (base null), a new version (mode "version") or a translation (mode "translation"). */
function editor(ctx, base, mode = "create") {
  const titleInput = h("input", { name: "title", required: true, maxLength: 200, value: base?.title || "" });
  const body = h("textarea", { name: "body", required: true, maxLength: 2000, rows: 5 }, base?.body || "");
  const category = select(CATEGORIES.map((c) => [c, c.replace(/_/g, " ")]), base?.category || "reassurance", { name: "category" });
  const channel = select(Object.entries(LABELS.channels), base?.channel || "social_reply", { name: "channel" });
  const language = h("input", { name: "language", value: mode === "translation" ? "" : base?.language || "en", maxLength: 35, required: true });
  const scope = select([["op", ctx.op ? `This operation (${ctx.op.name})` : "This operation"], ["global", "Global library"]],
    ctx.op ? "op" : "global", { name: "scope" });
  const slots = h("div", { id: "slots" });
  const preview = h("p", { class: "preview prewrap", id: "editor-preview", "aria-live": "polite" });
  const warnings = h("p", { class: "hint", role: "status" });
  const status = h("p", { role: "status" });
  const update = () => {
    const rules = [...slots.children].map((r) => r.read());
    const sample = Object.fromEntries(rules.map((r) => [r.name, r.kind === "choice" ? r.choices?.[0] || "" : `[${r.label || r.name}]`]));
    preview.textContent = renderLocally(body.value, sample);
    const dir = directionOf({ language: language.value });
    preview.dir = dir;
    body.dir = dir;
    titleInput.dir = dir;
    const used = [...body.value.matchAll(/\{([a-z][a-z0-9_]*)\}/g)].map((m) => m[1]);
    const missing = used.filter((u) => !rules.some((r) => r.name === u));
    const unused = rules.filter((r) => r.name && !used.includes(r.name)).map((r) => r.name);
    warnings.textContent = [missing.length ? `No slot defined for: ${missing.join(", ")}.` : "",
      unused.length ? `Slots not in the text: ${unused.join(", ")}.` : ""].join(" ");
  };
  for (const slot of base?.slots || []) slots.append(slotRow(slot, update));
  for (const control of [titleInput, body, language]) control.addEventListener("input", update);
  const addSlot = h("button", { type: "button", class: "button button-secondary", onclick: () => { slots.append(slotRow({}, update)); update(); } }, "Add slot");

  const form = h("form", { class: "card", id: "template-editor", onsubmit: async (event) => {
    event.preventDefault();
    const payload = { title: titleInput.value.trim(), body: body.value, slots: [...slots.children].map((r) => r.read()) };
    try {
      let saved;
      if (mode === "version") {
        saved = await ctx.api.post(`/templates/${base.id}/versions`, { ...payload, category: category.value, channel: channel.value });
      } else if (mode === "translation") {
        saved = await ctx.api.post(`/templates/${base.id}/translations`, { ...payload, language: language.value.trim() });
      } else {
        const create = { ...payload, category: category.value, channel: channel.value, language: language.value.trim() };
        if (scope.value === "op" && ctx.op) create.operation_id = ctx.op.id;
        saved = await ctx.api.post("/templates", create);
      }
      const submitNow = event.submitter?.value === "submit";
      if (submitNow) saved = await ctx.api.post(`/templates/${saved.id}/submit`);
      ctx.navigate(`templates/${saved.id}`);
    } catch (error) {
      status.textContent = error.fieldErrors?.length ? error.fieldErrors.join(" ") : error.message;
    }
  } },
  h("h2", {}, mode === "version" ? "New version" : mode === "translation" ? "New translation" : "Write"),
  field("Title", titleInput),
  field("Text", body, "Put slots in braces, e.g. {location}. Officers can change only the slots."),
  mode === "translation" ? field("Language (BCP 47, e.g. ur, pa, pl)", language) : null,
  mode === "create" ? h("div", { class: "grid-2" }, field("Category", category), field("Channel", channel), field("Language", language), field("Where", scope)) : null,
  mode === "version" ? h("div", { class: "grid-2" }, field("Category", category), field("Channel", channel)) : null,
  h("h3", {}, "Slots"), slots, addSlot,
  h("h3", {}, "Preview"), preview, warnings,
  h("div", { class: "section-actions" },
    h("button", { class: "button button-secondary", type: "submit", value: "draft" }, "Save draft"),
    h("button", { class: "button", type: "submit", value: "submit", id: "save-submit" }, "Save and submit for approval")),
  status);
  update();
  return form;
}

function versionCard(heading, v, language) {
  const dir = directionOf({ language });
  return h("section", { class: "card" },
    h("div", { class: "row-between" }, h("h3", {}, heading), badge(v.status, STATUS_KIND[v.status])),
    h("p", {}, h("strong", { lang: language, dir }, v.title)),
    h("p", { class: "prewrap", lang: language, dir }, v.body),
    h("p", { class: "muted" }, `v${v.number ?? v.version_number} · ${(v.category || "").replace(/_/g, " ")} · `, timeNode(v.created_at)),
    v.reject_reason ? h("p", { class: "error-text" }, `Rejected: ${v.reject_reason}`) : null,
    v.expires_at ? h("p", { class: "muted" }, "Expires ", timeNode(v.expires_at)) : null);
}

async function renderDetail(ctx, id, tabs) {
  const t = await ctx.api.get(`/templates/${id}`, { signal: ctx.signal });
  const translations = await Promise.all((t.translations || []).map((r) => ctx.api.get(`/templates/${r.id}`).catch(() => null)));
  const status = h("p", { role: "status" });
  const act = async (path, body, message) => {
    try {
      await ctx.api.post(path, body);
      status.textContent = message;
      await renderDetail(ctx, id, tabs);
    } catch (error) {
      status.textContent = error.fieldErrors?.length ? error.fieldErrors.join(" ") : error.message;
    }
  };
  const expires = h("input", { type: "datetime-local", name: "expires_at" });
  const reason = h("textarea", { name: "reason", rows: 2, maxLength: 2000 });
  const pending = t.status === "pending" || t.pending_version?.status === "pending";
  const mine = String(t.author_id) === String(ctx.me.id);
  const extra = h("div", {});
  const versions = (t.versions || []).slice().sort((a, b) => b.number - a.number);
  mount(ctx.main, h("p", {}, h("a", { href: "#/templates" }, "All templates")), tabs,
    h("h1", { lang: t.language, dir: directionOf(t) }, t.title),
    h("p", { class: "row" }, badge(t.status, STATUS_KIND[t.status]), badge(t.language.toUpperCase(), "info"),
      t.usable ? badge("Officers can use it", "ok") : badge(t.unusable_reason || "Not usable yet", "warn")),
    h("div", { class: "grid-2", id: "side-by-side" },
      versionCard(t.status === "approved" ? "In use" : "Current", { ...t, number: t.version_number }, t.language),
      t.pending_version ? versionCard("Waiting for approval", t.pending_version, t.language) : null,
      translations.filter(Boolean).map((tr) => versionCard(`Translation: ${tr.language.toUpperCase()}`, { ...tr, number: tr.version_number }, tr.language))),
    h("section", { class: "card" }, h("h2", {}, "Actions"),
      t.status === "draft" && mine ? h("button", { class: "button", type: "button", onclick: () => act(`/templates/${id}/submit`, undefined, "Submitted.") }, "Submit for approval") : null,
      pending && !mine ? h("form", { class: "stack", onsubmit: (e) => {
        e.preventDefault();
        const body = expires.value ? { expires_at: new Date(expires.value).toISOString() } : {};
        act(`/templates/${id}/approve`, body, "Approved.");
      } }, field("Approval expires (optional)", expires), h("button", { class: "button", type: "submit", id: "approve" }, "Approve")) : null,
      pending && !mine ? h("form", { class: "stack", onsubmit: (e) => {
        e.preventDefault();
        if (!reason.value.trim()) { status.textContent = "Give a reason the author can act on."; reason.focus(); return; }
        act(`/templates/${id}/reject`, { reason: reason.value.trim() }, "Sent back to the author.");
      } }, field("Reason for rejecting", reason), h("button", { class: "button button-danger", type: "submit" }, "Reject")) : null,
      pending && mine ? h("p", { class: "muted" }, "Someone else approves your own templates.") : null,
      h("div", { class: "section-actions" },
        h("button", { class: "button button-secondary", type: "button", onclick: () => mount(extra, editor(ctx, t, "version")) }, "Edit (new version)"),
        t.translation_of ? null : h("button", { class: "button button-secondary", type: "button", onclick: () => mount(extra, editor(ctx, t, "translation")) }, "Add translation"),
        t.status === "approved" && ["gold", "admin"].includes(ctx.role) ? h("button", { class: "button button-danger", type: "button",
          onclick: () => confirm("Retire this template? Officers can no longer use it.") && act(`/templates/${id}/retire`, undefined, "Retired.") }, "Retire") : null),
      status),
    extra,
    versions.length ? h("section", { class: "card" }, h("h2", {}, "Versions"), h("div", { class: "grid-2" },
      versions.map((v) => versionCard(`Version ${v.number}`, v, t.language)))) : null);
}
