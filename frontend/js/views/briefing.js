// Gold's strategy and Bronze's briefing, with "I have read this".
import { h, mount, badge, timeNode } from "../dom.js";

export const title = "Briefing";

export default async function render(ctx) {
  const op = await ctx.refreshOperation();
  if (!op) return ctx.navigate("home");
  const acknowledged = Boolean(op.briefing_acknowledged);
  const status = h("p", { role: "status" }, acknowledged ? badge("You have read this version", "ok") : "");
  const button = h("button", { class: "button button-block", type: "button", id: "ack-briefing", hidden: acknowledged,
    onclick: async () => {
      button.disabled = true;
      try {
        const answer = await ctx.api.post(`/operations/${op.id}/briefing/ack`);
        op.briefing_acknowledged = true;
        button.hidden = true;
        status.replaceChildren(badge("You have read this version", "ok"), " ", timeNode(answer.acknowledged_at));
      } catch (error) {
        ctx.showError(error);
        button.disabled = false;
      }
    } }, "I have read this");
  const section = (heading, text, version) => h("section", { class: "card" },
    h("div", { class: "row-between" }, h("h2", {}, heading), version ? h("span", { class: "muted" }, `Version ${version}`) : null),
    text ? h("p", { class: "prewrap" }, text) : h("p", { class: "empty" }, "Not published yet."));
  mount(ctx.main,
    h("h1", {}, "Briefing"),
    op.exercise ? h("p", { class: "badge badge-warn" }, "EXERCISE") : null,
    section("Engagement strategy (Gold)", op.strategy, op.strategy_version),
    section("Briefing (Bronze)", op.briefing, op.briefing_version),
    rulesCard(op.engagement),
    status,
    button,
    ctx.isCommand ? h("p", {}, h("a", { href: "#/console" }, "Who has read it: see the briefing panel on the console")) : null);
}

// What applies to officers, rule by rule (the stricter of strategy and briefing), with Bronze's recorded
// reason wherever the briefing narrowed Gold's strategy.
function rulesCard(engagement) {
  if (!engagement) return null;
  const value = (rule) => (Array.isArray(rule.applies) ? (rule.applies.length ? rule.applies.join(", ") : "none")
    : rule.applies === null ? "all" : rule.applies ? "Yes" : "No");
  return h("section", { class: "card", id: "engagement-rules" }, h("h2", {}, "What you may do"),
    h("ul", { class: "list" }, engagement.rules.map((rule) => h("li", {},
      h("strong", {}, `${rule.label}: `), badge(value(rule), rule.applies === false ? "warn" : "ok"),
      rule.restricted_by_briefing ? h("p", { class: "muted prewrap" }, "Narrowed by the briefing",
        rule.rationale ? `: ${rule.rationale}` : ".") : null))));
}
