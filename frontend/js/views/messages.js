// Messages from Bronze: newest first, urgent ones highlighted, one tap to acknowledge. Receipts
// ("delivered" when the inbox loads them, "opened" when shown) go automatically through the outbox,
// so they are not lost without signal.
import { h, mount, badge, timeNode, loadingItem } from "../dom.js";

export const title = "Messages";

export function receiptState(message) {
  const r = message.my_receipt || message.receipt || message.receipts || {};
  const has = (event) => Boolean(r[`${event}_at`] || message[`${event}_at`] || r[event] === true || message[event] === true
    || (Array.isArray(r) && r.some((x) => x.event === event)) || (message.receipt_state || r.state) === event
    || (event !== "acknowledged" && ["acknowledged", "opened"].includes(message.receipt_state || r.state)));
  return { delivered: has("delivered"), opened: has("opened"), acknowledged: has("acknowledged") };
}

async function queueReceipt(ctx, message, event) {
  await ctx.outbox.enqueue({ client_id: `receipt:${message.id}:${event}`, kind: "receipt",
    label: event === "acknowledged" ? "Acknowledgement" : "Receipt",
    path: `/api/v1/notifications/${message.id}/receipts`, body: { event } });
}

export default async function render(ctx) {
  if (!ctx.op) return ctx.navigate("home");
  const [focusId] = ctx.params;
  const list = h("ul", { class: "list", id: "inbox" });
  const status = h("p", { class: "muted", role: "status" });
  mount(ctx.main, h("h1", {}, "Messages"), status, list);
  mount(list, loadingItem());
  const acked = new Set();

  async function load() {
    let messages;
    try {
      const answer = await ctx.api.get(`/operations/${ctx.op.id}/notifications`, { signal: ctx.signal });
      messages = Array.isArray(answer) ? answer : answer.items || answer.notifications || [];
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error instanceof ctx.api.NetworkError) {
        status.textContent = "Offline: messages appear when you have signal.";
        mount(list);
        return;
      }
      throw error;
    }
    status.textContent = "";
    messages.sort((a, b) => (b.created_at || b.sent_at || "").localeCompare(a.created_at || a.sent_at || ""));
    const queued = new Set((await ctx.outbox.list()).map((i) => i.client_id));
    mount(list, messages.length ? messages.map((m) => card(ctx, m, queued, acked)) : h("li", { class: "empty" }, "No messages yet."));
    for (const message of messages) {
      const state = receiptState(message);
      if (!state.delivered && !queued.has(`receipt:${message.id}:delivered`)) await queueReceipt(ctx, message, "delivered");
      if (!state.opened && !state.acknowledged && !queued.has(`receipt:${message.id}:opened`)) await queueReceipt(ctx, message, "opened");
    }
    ctx.state.unread = 0;
    ctx.push.setBadge(0);
    ctx.events.dispatchEvent(new CustomEvent("unread", { detail: 0 }));
    if (focusId) list.querySelector(`[data-id="${CSS.escape(focusId)}"]`)?.scrollIntoView({ block: "center" });
  }

  const reload = () => load().catch(ctx.showError);
  for (const type of ["notification.created", "push"]) {
    ctx.events.addEventListener(type, reload);
    ctx.onLeave(() => ctx.events.removeEventListener(type, reload));
  }
  await load();
}

function card(ctx, message, queued, acked) {
  const state = receiptState(message);
  const ackPending = queued.has(`receipt:${message.id}:acknowledged`) || acked.has(message.id);
  const urgent = message.urgency === "high";
  const ackStatus = h("span", { class: "ack-state" });
  const showAcked = (pending) => mount(ackStatus, badge(pending ? "Acknowledged: waiting for signal" : "Acknowledged", pending ? "warn" : "ok"));
  let button = null;
  if (message.require_ack && !state.acknowledged && !ackPending) {
    button = h("button", { class: "button button-block", type: "button", "aria-label": `Acknowledge: ${message.title}`,
      onclick: async () => {
        button.disabled = true;
        acked.add(message.id);
        await queueReceipt(ctx, message, "acknowledged");
        button.remove();
        showAcked(!navigator.onLine);
        await ctx.outbox.flush();
        if ((await ctx.outbox.list()).every((i) => i.client_id !== `receipt:${message.id}:acknowledged`)) showAcked(false);
      } }, "Acknowledge");
  } else if (state.acknowledged || ackPending) {
    showAcked(ackPending && !state.acknowledged);
  }
  return h("li", { class: ["card", "message", urgent && "urgent"], dataset: { id: message.id } },
    h("div", { class: "row-between" },
      h("h2", {}, message.title),
      h("span", { class: "row" }, urgent ? badge("Urgent", "urgent") : null, message.exercise ? badge("EXERCISE", "warn") : null)),
    h("p", { class: "muted" }, timeNode(message.created_at || message.sent_at),
      message.sender_name ? ` · ${message.sender_name}` : ""),
    h("p", { class: "prewrap" }, message.body),
    message.require_ack && message.ack_deadline_at ? h("p", { class: "muted" }, "Acknowledge by ", timeNode(message.ack_deadline_at)) : null,
    ackStatus, button);
}
