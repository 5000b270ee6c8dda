// Officer home: the live operation and four large targets. Escalate is one tap: the report is queued
// the moment the button is pressed, then the officer may add details.
import { h, mount, badge } from "../dom.js";
import { escalateNow } from "./escalate.js";

export const title = "Home";

export default async function render(ctx) {
  const op = ctx.op;
  if (!op) {
    mount(ctx.main, h("section", { class: "card" }, h("h1", {}, "No operation"),
      h("p", {}, "You are not assigned to an operation yet. Your supervisor or an admin adds you to one.")));
    return;
  }
  const unread = h("span", { class: "counter", hidden: true, "aria-hidden": "true" });
  const messagesLabel = h("span", {}, "Messages");
  const messages = h("a", { class: "tile", href: "#/messages", id: "tile-messages" }, messagesLabel, unread);
  const briefingAcknowledged = Boolean(op.briefing_acknowledged);
  const briefing = h("a", { class: "tile", href: "#/briefing", id: "tile-briefing",
    "aria-label": briefingAcknowledged ? "Briefing" : "Briefing, not yet acknowledged" },
  "Briefing", briefingAcknowledged ? null : h("span", { class: "marker", "aria-hidden": "true" }, "Not read"));

  const showUnread = (count) => {
    unread.hidden = !count;
    unread.textContent = String(count);
    messages.setAttribute("aria-label", count ? `Messages, ${count} unread` : "Messages");
  };
  showUnread(ctx.state.unread);
  const listener = (event) => showUnread(event.detail);
  ctx.events.addEventListener("unread", listener);
  ctx.onLeave(() => ctx.events.removeEventListener("unread", listener));

  const escalate = h("button", { class: "tile tile-escalate", type: "button", id: "escalate-button",
    onclick: async () => {
      escalate.disabled = true;
      try {
        const clientId = await escalateNow(ctx);
        ctx.navigate(`escalate/${clientId}`);
      } finally {
        escalate.disabled = false;
      }
    } }, "Escalate rumour", h("span", { class: "tile-sub" }, "One tap sends it to Bronze"));

  mount(ctx.main,
    h("h1", { class: "sr-only" }, "Home"),
    h("section", { class: "card" },
      h("div", { class: "row-between" },
        h("h2", { class: "op-title" }, op.name),
        op.exercise ? badge("EXERCISE", "warn") : null,
        badge(op.status === "live" ? "Live" : op.status === "closed" ? "Closed" : "Planned",
          op.status === "live" ? "ok" : "")),
      op.my_group ? h("p", { class: "muted" }, `Your group: ${op.my_group}`) : null,
      op.status === "closed" ? h("p", { class: "error-text" }, "This operation is closed: nothing new can be sent.") : null),
    h("nav", { class: "tiles", "aria-label": "Officer actions" },
      escalate,
      h("a", { class: "tile", href: "#/replies", id: "tile-replies" }, "Replies"),
      messages,
      briefing),
    alertsCard(ctx));
  ctx.refreshUnread();
}

/** Ask for notification permission from a tap, once the officer is on the home screen (not on first load). */
function alertsCard(ctx) {
  const state = ctx.push.permission();
  if (state === "granted" || state === "unsupported") return null;
  if (state === "denied") {
    return h("section", { class: "card" }, h("h2", {}, "Alerts are blocked"),
      h("p", {}, "Messages from Bronze still arrive in Messages, but your phone will not alert you. Allow notifications for Parley in your phone's settings."));
  }
  const button = h("button", { class: "button", type: "button", id: "enable-alerts", onclick: async () => {
    button.disabled = true;
    try {
      const answer = await ctx.push.enable();
      card.replaceWith(h("p", { class: "muted", role: "status" },
        answer === "granted" ? "Alerts are on." : "Alerts stay off; messages still appear in Messages."));
    } catch (error) {
      ctx.showError(error);
      button.disabled = false;
    }
  } }, "Turn on alerts");
  const card = h("section", { class: "card" }, h("h2", {}, "Alerts from Bronze"),
    h("p", {}, "Turn on alerts so urgent messages reach you even when Parley is closed."), button);
  return card;
}
