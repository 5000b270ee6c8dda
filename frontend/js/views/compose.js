// Bronze's notification composer, the list of what was sent with live delivery / acknowledgement
// counts, and (#/compose/<id>) one message's panel with the officers who have not acknowledged.
import { h, mount, field, select, badge, timeNode, loadingItem } from "../dom.js";

export const title = "Notifications";

const URGENCY = [["normal", "Normal"], ["high", "Urgent (high)"], ["low", "Low"], ["very-low", "Very low"]];
const TTL = [["900", "15 minutes"], ["3600", "1 hour"], ["14400", "4 hours"], ["43200", "12 hours"]];
const ACK_WITHIN = [["", "No deadline"], ["120", "2 minutes"], ["300", "5 minutes"], ["900", "15 minutes"], ["1800", "30 minutes"]];

export default async function render(ctx) {
  if (!ctx.op) return ctx.navigate("");
  const [notificationId] = ctx.params;
  if (notificationId) return renderPanel(ctx, notificationId);
  const members = await ctx.api.get(`/operations/${ctx.op.id}/members`).catch(() => []);
  const groups = [...new Set(members.map((m) => m.group).filter(Boolean))].sort();

  const titleInput = h("input", { name: "title", required: true, maxLength: 120 });
  const body = h("textarea", { name: "body", required: true, maxLength: 4000, rows: 4 });
  const audienceKind = select([["operation", "Everyone on the operation"], ["role", "A role"], ["group", "A group"], ["users", "Named people"]],
    "operation", { name: "audience_kind" });
  const roleValue = select([["officer", "Officers"], ["bronze", "Bronze"], ["gold", "Gold"], ["comms", "Comms"]], "officer", { name: "audience_role" });
  const groupValue = select(groups.map((g) => [g, g]), groups[0], { name: "audience_group" });
  const usersValue = h("select", { name: "audience_users", multiple: true, size: 6 },
    members.map((m) => h("option", { value: m.user_id }, `${m.display_name} (${m.service_number})`)));
  const roleField = field("Role", roleValue);
  const groupField = field("Group", groupValue);
  const usersField = field("People", usersValue, "Hold Ctrl / Cmd to pick several.");
  const showAudience = () => {
    roleField.hidden = audienceKind.value !== "role";
    groupField.hidden = audienceKind.value !== "group";
    usersField.hidden = audienceKind.value !== "users";
  };
  audienceKind.addEventListener("change", showAudience);
  const urgency = select(URGENCY, "normal", { name: "urgency" });
  const ttl = select(TTL, "3600", { name: "ttl" });
  const requireAck = h("input", { type: "checkbox", name: "require_ack", id: "require-ack" });
  const ackWithin = select(ACK_WITHIN, "", { name: "ack_within", disabled: true });
  requireAck.addEventListener("change", () => { ackWithin.disabled = !requireAck.checked; });
  const topic = h("input", { name: "topic", maxLength: 32, pattern: "[A-Za-z0-9_\\-]{1,32}", autocomplete: "off" });
  const sensitive = h("input", { type: "checkbox", name: "sensitive", id: "sensitive" });
  const status = h("p", { role: "status" });
  const list = h("ul", { class: "list", id: "sent" });

  const form = h("form", { class: "card", id: "composer", onsubmit: async (event) => {
    event.preventDefault();
    const audience = { kind: audienceKind.value };
    if (audience.kind === "role") audience.value = roleValue.value;
    if (audience.kind === "group") audience.value = groupValue.value;
    if (audience.kind === "users") audience.value = [...usersValue.selectedOptions].map((o) => o.value);
    const payload = { title: titleInput.value.trim(), body: body.value.trim(), urgency: urgency.value,
      ttl_seconds: Number(ttl.value), audience, require_ack: requireAck.checked, sensitive: sensitive.checked };
    if (requireAck.checked && ackWithin.value) payload.ack_within_seconds = Number(ackWithin.value);
    if (topic.value.trim()) payload.topic = topic.value.trim();
    try {
      const sent = await ctx.api.post(`/operations/${ctx.op.id}/notifications`, payload);
      status.textContent = `Sent to ${sent.counts?.targets ?? "the"} recipient(s).`;
      form.reset();
      showAudience();
      ctx.navigate(`compose/${sent.id}`);
    } catch (error) {
      status.textContent = error.fieldErrors?.length ? error.fieldErrors.join(" ") : error.message;
    }
  } },
  h("h2", {}, "New message"),
  field("Title", titleInput), field("Message", body),
  field("Send to", audienceKind), roleField, groupField, usersField,
  h("div", { class: "grid-2" }, field("Urgency", urgency), field("Keep trying for", ttl)),
  h("label", { class: "check" }, requireAck, "Officers must acknowledge"),
  field("Acknowledge within", ackWithin, "Unacknowledged after this, the message is re-sent and listed for you."),
  field("Topic (optional)", topic, "A newer message with the same topic replaces this one on phones that were offline."),
  h("label", { class: "check" }, sensitive, "Sensitive: lock screens show only “Parley: new message”"),
  h("button", { class: "button", type: "submit", id: "send-notification" }, "Send"), status);
  showAudience();

  const load = async () => {
    const answer = await ctx.api.get(`/operations/${ctx.op.id}/notifications`, { signal: ctx.signal });
    const items = Array.isArray(answer) ? answer : answer.items || [];
    items.sort((a, b) => b.created_at.localeCompare(a.created_at));
    mount(list, items.length ? items.map((n) => h("li", { class: ["card", n.urgency === "high" && "urgent"] },
      h("div", { class: "row-between" }, h("a", { href: `#/compose/${n.id}` }, h("strong", {}, n.title)), timeNode(n.created_at)),
      countsLine(n))) : h("li", { class: "empty" }, "Nothing sent yet."));
  };
  const reload = () => load().catch(() => {});
  for (const type of ["notification.created", "notification.receipt"]) {
    ctx.events.addEventListener(type, reload);
    ctx.onLeave(() => ctx.events.removeEventListener(type, reload));
  }
  mount(ctx.main, h("h1", {}, "Notifications"), h("div", { class: "console" }, form,
    h("section", {}, h("h2", {}, "Sent"), list)));
  mount(list, loadingItem());
  await load();
}

function countsLine(n) {
  const c = n.counts;
  if (!c) return null;
  return h("p", { class: "row counts" },
    badge(c.targets === 1 ? "1 recipient" : `${c.targets} recipients`), badge(`${c.delivered} delivered`, "info"), badge(`${c.opened} opened`, "info"),
    n.require_ack ? badge(`${c.acknowledged} acknowledged`, c.acknowledged === c.targets ? "ok" : "warn") : null);
}

async function renderPanel(ctx, id) {
  const members = await ctx.api.get(`/operations/${ctx.op.id}/members`).catch(() => []);
  const names = new Map(members.map((m) => [String(m.user_id), `${m.display_name} (${m.service_number})`]));
  const panel = h("section", { class: "card", id: "delivery-panel", "aria-live": "polite" });
  const load = async () => {
    const n = await ctx.api.get(`/notifications/${id}`, { signal: ctx.signal });
    const c = n.counts || {};
    const stat = (label, value, key) => h("div", { class: "stat", dataset: { stat: key } }, h("dt", {}, label), h("dd", {}, String(value ?? 0)));
    mount(panel,
      h("div", { class: "row-between" }, h("h2", {}, n.title), n.urgency === "high" ? badge("Urgent", "urgent") : null),
      h("p", { class: "prewrap" }, n.body),
      h("p", { class: "muted" }, "Sent ", timeNode(n.created_at), n.ack_deadline_at ? [" · acknowledge by ", timeNode(n.ack_deadline_at)] : ""),
      h("dl", { class: "stats" }, stat("Recipients", c.targets, "targets"), stat("Pushed", c.sent, "sent"),
        stat("No alerts set up", c.no_subscription, "no_subscription"), stat("Failed", c.failed, "failed"),
        stat("Delivered", c.delivered, "delivered"), stat("Opened", c.opened, "opened"),
        stat("Acknowledged", c.acknowledged, "acknowledged")),
      n.require_ack ? h("div", {}, h("h3", {}, `Not acknowledged (${(n.not_acknowledged || []).length})`),
        h("ul", { id: "not-acknowledged" }, (n.not_acknowledged || []).map((uid) => h("li", {}, names.get(String(uid)) || String(uid))))) : null);
  };
  const reload = () => load().catch(() => {});
  ctx.events.addEventListener("notification.receipt", reload);
  ctx.onLeave(() => ctx.events.removeEventListener("notification.receipt", reload));
  // receipts also arrive while the stream reconnects: a slow poll keeps the panel honest
  const timer = setInterval(reload, 10000);
  ctx.onLeave(() => clearInterval(timer));
  mount(ctx.main, h("p", {}, h("a", { href: "#/compose" }, "All notifications")), h("h1", {}, "Delivery"), panel);
  await load();
}
