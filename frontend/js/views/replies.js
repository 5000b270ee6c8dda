// Replies: search and filter the approved templates, fill the slots, preview the exact text, then share
// or copy it. The server renders and records the use; offline, the use is queued and the identical local
// rendering is shown. Approved templates are public wording, so the last list is kept for offline use.
import "../store.js";
import { h, mount, field, select, badge, newId, LABELS, toast, loading } from "../dom.js";

export const title = "Replies";
const store = globalThis.parleyStore;
const RTL_LANGUAGES = new Set(["ar", "arc", "ckb", "dv", "fa", "he", "ks", "ku", "pa-arab", "ps", "sd", "ug", "ur", "yi"]);

/** Writing direction of a template: its own field if the server gives one, else from its language tag. */
export function directionOf(template) {
  if (template.direction === "rtl" || template.direction === "ltr") return template.direction;
  const tag = (template.language || "en").toLowerCase();
  try {
    const locale = new Intl.Locale(tag);
    const info = locale.getTextInfo?.() || locale.textInfo;
    if (info?.direction) return info.direction;
  } catch { /* invalid tag: fall through */ }
  return RTL_LANGUAGES.has(tag) || RTL_LANGUAGES.has(tag.split("-")[0]) ? "rtl" : "ltr";
}

/** Same substitution as the server: {name} or {{name}} replaced by the slot's value. */
export function renderLocally(body, values) {
  return body.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}|\{([A-Za-z0-9_]+)\}/g, (whole, a, b) => {
    const name = a || b;
    return Object.prototype.hasOwnProperty.call(values, name) && values[name] !== "" ? values[name] : `[${name}]`;
  });
}

const shorten = (text, limit) => (text.length > limit ? `${text.slice(0, limit - 1)}…` : text);

async function loadTemplates(ctx) {
  const key = `templates:${ctx.op.id}`;
  try {
    const answer = await ctx.api.get(`/operations/${ctx.op.id}/templates`, { signal: ctx.signal });
    const items = (Array.isArray(answer) ? answer : answer.items || answer.templates || [])
      .filter((t) => !t.status || t.status === "approved");
    await store.put("kv", items, key);
    return { items, offline: false };
  } catch (error) {
    if (!(error instanceof ctx.api.NetworkError)) throw error;
    return { items: (await store.get("kv", key)) || [], offline: true };
  }
}

export default async function render(ctx) {
  if (!ctx.op) return ctx.navigate("home");
  mount(ctx.main, loading());
  const { items, offline } = await loadTemplates(ctx);
  const [templateId] = ctx.params;
  if (templateId) {
    let template = items.find((t) => String(t.id) === templateId);
    if (!template) {
      try { template = await ctx.api.get(`/templates/${templateId}`); } catch (error) { ctx.showError(error); }
    }
    if (!template) return mount(ctx.main, h("p", { class: "card" }, "This reply is not available."), h("a", { href: "#/replies" }, "All replies"));
    return renderTemplate(ctx, template);
  }
  renderList(ctx, items, offline);
}

function renderList(ctx, items, offline) {
  const query = h("input", { type: "search", name: "q", placeholder: "Search replies", autocomplete: "off" });
  const categories = [...new Set(items.map((t) => t.category).filter(Boolean))].sort();
  const channels = [...new Set(items.map((t) => t.channel).filter(Boolean))].sort();
  const category = select([["", "All categories"], ...categories.map((c) => [c, c.replace(/_/g, " ")])], "", { name: "category" });
  const channel = select([["", "All channels"], ...channels.map((c) => [c, LABELS.channels[c] || c])], "", { name: "channel" });
  const list = h("ul", { class: "list", id: "template-list" });
  const count = h("p", { class: "muted", role: "status" });
  const draw = () => {
    const words = query.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = items.filter((t) => (!category.value || t.category === category.value)
      && (!channel.value || t.channel === channel.value)
      && words.every((w) => `${t.title} ${t.body} ${t.category}`.toLowerCase().includes(w)));
    count.textContent = `${shown.length} of ${items.length} replies`;
    mount(list, shown.length ? shown.map((t) => {
      const dir = directionOf(t);
      return h("li", {}, h("a", { class: "card tile-link", href: `#/replies/${t.id}`, dataset: { templateId: t.id } },
        h("strong", { lang: t.language, dir }, t.title),
        h("p", { class: "muted", lang: t.language, dir }, shorten(renderLocally(t.body, {}), 120)),
        h("span", { class: "row" }, badge((t.category || "").replace(/_/g, " ")), badge(LABELS.channels[t.channel] || t.channel || ""),
          t.language && t.language !== "en" ? badge(t.language.toUpperCase(), "info") : null)));
    }) : h("li", { class: "empty" }, items.length ? "No reply matches." : "No approved replies yet."));
  };
  for (const control of [query, category, channel]) control.addEventListener("input", draw);
  mount(ctx.main, h("h1", {}, "Replies"),
    offline ? h("p", { class: "badge badge-warn" }, "Offline: showing the replies saved on this phone") : null,
    h("div", { class: "card" }, field("Search", query), h("div", { class: "grid-2" }, field("Category", category), field("Channel", channel))),
    count, list);
  draw();
}

function slotControl(slot, onInput) {
  const name = `slot-${slot.name}`;
  const label = slot.label || slot.name.replace(/_/g, " ");
  if (slot.kind === "choice") {
    return h("fieldset", { class: "choices" }, h("legend", {}, label),
      (slot.choices || []).map((choice, index) => h("label", { class: "choice" },
        h("input", { type: "radio", name, value: choice, required: true, oninput: onInput, checked: index === 0 && (slot.choices || []).length === 1 }),
        choice)));
  }
  // the slot's rules as the server will apply them, so the officer is not surprised by a refusal
  const maxLength = slot.max_length || 80;
  const rules = [`Up to ${maxLength} characters`];
  if (slot.charset === "digits") rules.push("digits only");
  else if (slot.charset === "alphanumeric") rules.push("letters and digits only");
  if (!slot.allow_urls) rules.push("no links");
  if (!slot.allow_mentions) rules.push("no @mentions");
  const input = h("input", { name, maxLength, required: true, oninput: onInput, autocomplete: "off",
    inputMode: slot.charset === "digits" ? "numeric" : undefined });
  return field(label, input, `${rules.join(", ")}.`);
}

function renderTemplate(ctx, template) {
  const dir = directionOf(template);
  const slots = template.slots || [];
  const form = h("form", { class: "card", novalidate: true });
  const preview = h("p", { class: "preview prewrap", lang: template.language, dir, id: "preview", "aria-live": "polite" });
  const values = () => Object.fromEntries(slots.map((slot) => {
    const control = form.elements[`slot-${slot.name}`];
    return [slot.name, control ? String(control.value || "").trim() : ""];
  }));
  const update = () => { preview.textContent = renderLocally(template.body, values()); };
  const channel = select(Object.entries(LABELS.channels), template.channel || "social_reply", { name: "channel" });
  const inReplyTo = h("input", { type: "url", name: "in_reply_to", inputMode: "url", placeholder: "https://…" });
  const status = h("p", { role: "status", class: "muted" });

  async function use(how) {
    const missing = slots.filter((s) => !values()[s.name]);
    if (missing.length) {
      status.textContent = `Fill in: ${missing.map((s) => s.label || s.name).join(", ")}.`;
      form.querySelector(`[name="slot-${missing[0].name}"]`)?.focus();
      return;
    }
    const body = { operation_id: ctx.op.id, slots: values(), channel: channel.value, client_id: newId() };
    if (inReplyTo.value.trim()) body.in_reply_to = inReplyTo.value.trim();
    let text = preview.textContent;
    try {
      const answer = await ctx.api.post(`/templates/${template.id}/render`, body);
      text = answer.text;
      preview.textContent = text;
      status.textContent = "Recorded.";
    } catch (error) {
      if (error instanceof ctx.api.NetworkError) {
        await ctx.outbox.enqueue({ client_id: body.client_id, kind: "template_use", label: `Reply: ${template.title}`,
          path: `/api/v1/templates/${template.id}/render`, body });
        status.textContent = "No signal: the use is saved and will be recorded when you are back online.";
      } else {
        status.replaceChildren(error.fieldErrors?.length ? error.fieldErrors.join(" ") : error.message);
        if (error.problem?.type?.includes("briefing-not-acknowledged")) {
          status.append(" ", h("a", { href: "#/briefing" }, "Read the briefing"));
        }
        return;
      }
    }
    try {
      if (how === "share" && navigator.share) await navigator.share({ text });
      else {
        await navigator.clipboard.writeText(text);
        toast("Copied. Paste it into your reply.");
      }
    } catch (error) {
      if (error.name !== "AbortError") toast("Could not open sharing: select the preview text and copy it.", "error");
    }
  }

  mount(form, slots.length ? h("h2", {}, "Fill in") : null,
    slots.map((slot) => slotControl(slot, update)),
    field("Used as", channel),
    field("Answering a post (optional)", inReplyTo, "The address of the post you reply to, for the record."),
    h("h2", {}, "Preview"), preview, status,
    h("div", { class: "section-actions" },
      navigator.share ? h("button", { class: "button", type: "button", id: "share", onclick: () => use("share") }, "Share") : null,
      h("button", { class: navigator.share ? "button button-secondary" : "button", type: "button", id: "copy", onclick: () => use("copy") }, "Copy")));
  update();
  mount(ctx.main,
    h("p", {}, h("a", { href: "#/replies" }, "All replies")),
    h("h1", { lang: template.language, dir }, template.title),
    h("p", { class: "row" }, badge((template.category || "").replace(/_/g, " ")), badge(LABELS.channels[template.channel] || template.channel || ""),
      template.language ? badge(template.language.toUpperCase(), "info") : null),
    form);
}
