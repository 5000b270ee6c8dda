// What is waiting to be sent, and what the server refused (with its reason) until the officer acts.
import { h, mount, badge, timeNode } from "../dom.js";

export const title = "Waiting to send";

export default async function render(ctx) {
  const list = h("ul", { class: "list", id: "outbox-list" });
  const draw = (items) => mount(list, items.length ? items.map((item) => h("li", { class: ["card", item.state === "rejected" && "urgent"] },
    h("div", { class: "row-between" }, h("strong", {}, item.label || item.kind),
      item.state === "rejected" ? badge("Not accepted", "urgent") : badge("Waiting for signal", "warn")),
    h("p", { class: "muted" }, "Made ", timeNode(item.created_at), item.attempts ? ` · ${item.attempts} attempt(s)` : ""),
    item.error ? h("p", { class: "error-text" }, item.error) : null,
    h("div", { class: "row" },
      h("button", { class: "button button-secondary", type: "button", onclick: () => ctx.outbox.retry(item.client_id) }, "Try again"),
      item.state === "rejected" ? h("button", { class: "button button-secondary", type: "button",
        onclick: () => ctx.outbox.dismiss(item.client_id) }, "Discard") : null)))
    : h("li", { class: "empty" }, "Nothing is waiting. Everything has been sent."));
  ctx.onLeave(ctx.outbox.onChange(draw));
  mount(ctx.main, h("h1", {}, "Waiting to send"),
    h("p", {}, "Items stay on this phone until the server has them, and are sent in order when you have signal."),
    h("button", { class: "button", type: "button", onclick: () => ctx.outbox.flush() }, "Send now"), list);
  draw(await ctx.outbox.list());
}
