// The operation's decision log: append-only, newest first; Bronze and Gold record, auditors read.
import { h, mount, field, timeNode, loadingItem } from "../dom.js";

export const title = "Decision log";

export default async function render(ctx) {
  if (!ctx.op) return ctx.navigate("");
  const list = h("ol", { class: "list", id: "decisions", reversed: true });
  const decision = h("textarea", { name: "decision", required: true, maxLength: 5000, rows: 2 });
  const rationale = h("textarea", { name: "rationale", required: true, maxLength: 10000, rows: 3 });
  const status = h("p", { role: "status" });
  const load = async () => {
    const items = await ctx.api.get(`/operations/${ctx.op.id}/decisions`, { signal: ctx.signal });
    items.sort((a, b) => b.created_at.localeCompare(a.created_at));
    mount(list, items.length ? items.map((d) => h("li", { class: "card" },
      h("p", { class: "muted" }, timeNode(d.created_at), d.author_name ? ` · ${d.author_name}` : ""),
      h("p", { class: "prewrap" }, h("strong", {}, "Decision: "), d.decision),
      h("p", { class: "prewrap" }, h("strong", {}, "Rationale: "), d.rationale)))
      : h("li", { class: "empty" }, "No decisions recorded yet."));
  };
  const form = ctx.isCommand ? h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await ctx.api.post(`/operations/${ctx.op.id}/decisions`, { decision: decision.value.trim(), rationale: rationale.value.trim() });
      decision.value = "";
      rationale.value = "";
      status.textContent = "Recorded.";
      await load();
    } catch (error) { ctx.showError(error); }
  } }, h("h2", {}, "Record a decision"), field("Decision", decision), field("Rationale", rationale),
  h("button", { class: "button", type: "submit" }, "Record"), status) : null;
  mount(ctx.main, h("h1", {}, "Decision log"), form, h("h2", {}, "Log"), list);
  mount(list, loadingItem());
  await load();
}
