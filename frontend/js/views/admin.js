// Admin: accounts (create, disable, reset password, revoke a lost phone's sessions) and, for admins and
// the operation's command, its members and groups.
import { h, mount, field, select, badge, loadingItem } from "../dom.js";

export const title = "Users and members";
const ROLES = ["officer", "bronze", "gold", "comms", "auditor", "admin"];
const OP_ROLES = ["officer", "bronze", "gold", "comms"];

export default async function render(ctx) {
  const isAdmin = ctx.role === "admin";
  const users = h("section", { class: "card", id: "users" });
  const members = h("section", { class: "card", id: "members" });
  mount(ctx.main, h("h1", {}, "Users and members"), isAdmin ? users : null, ctx.op ? members : null);
  let allUsers = [];
  if (isAdmin) allUsers = await renderUsers(ctx, users);
  if (ctx.op) await renderMembers(ctx, members, allUsers);
}

async function renderUsers(ctx, node) {
  const q = h("input", { type: "search", name: "q", placeholder: "Name or service number", maxLength: 64 });
  const list = h("ul", { class: "list" });
  const status = h("p", { role: "status" });
  let items = [];
  const load = async () => {
    items = await ctx.api.get(`/users${q.value.trim() ? `?q=${encodeURIComponent(q.value.trim())}` : ""}`);
    mount(list, items.map((u) => userRow(ctx, u, load, status)));
    return items;
  };
  const number = h("input", { name: "service_number", required: true, maxLength: 32, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]*" });
  const name = h("input", { name: "display_name", required: true, maxLength: 120 });
  const role = select(ROLES.map((r) => [r, r]), "officer", { name: "role" });
  const password = h("input", { name: "password", type: "password", required: true, minLength: 10, autocomplete: "new-password" });
  const create = h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await ctx.api.post("/users", { service_number: number.value.trim(), display_name: name.value.trim(), role: role.value, password: password.value });
      status.textContent = `Account ${number.value.trim()} created.`;
      create.reset();
      await load();
    } catch (error) { status.textContent = error.fieldErrors?.length ? error.fieldErrors.join(" ") : error.message; }
  } }, h("h3", {}, "New account"),
  h("div", { class: "grid-2" }, field("Service number", number), field("Name", name), field("Role", role),
    field("Initial password", password, "At least 10 characters; tell it to the officer in person.")),
  h("button", { class: "button", type: "submit" }, "Create account"));
  mount(node, h("h2", {}, "Accounts"), h("form", { onsubmit: (e) => { e.preventDefault(); load().catch(ctx.showError); } },
    field("Find", q)), status, list, create);
  mount(list, loadingItem());
  return load();
}

function userRow(ctx, u, reload, status) {
  const act = async (fn, message) => {
    try { await fn(); status.textContent = message; await reload(); } catch (error) { status.textContent = error.message; }
  };
  const newPassword = h("input", { type: "password", name: "new_password", minLength: 10, autocomplete: "new-password" });
  const reset = h("details", {}, h("summary", { class: "link-button" }, "Reset password"),
    h("form", { class: "stack", onsubmit: (e) => {
      e.preventDefault();
      act(() => ctx.api.request("PATCH", `/users/${u.id}`, { body: { password: newPassword.value } }), `Password of ${u.service_number} reset; their sessions ended.`);
    } }, field("New password", newPassword), h("button", { class: "button", type: "submit" }, "Set password")));
  return h("li", { class: "card", dataset: { userId: u.id } },
    h("div", { class: "row-between" }, h("strong", {}, `${u.display_name} (${u.service_number})`),
      h("span", { class: "row" }, badge(u.role), u.active ? badge("Active", "ok") : badge("Disabled", "urgent"))),
    h("div", { class: "section-actions" },
      h("button", { class: "button button-secondary", type: "button", onclick: () =>
        act(() => ctx.api.request("PATCH", `/users/${u.id}`, { body: { active: !u.active } }), u.active ? "Disabled." : "Enabled.") },
      u.active ? "Disable" : "Enable"),
      h("button", { class: "button button-secondary", type: "button", onclick: async () => {
        try {
          const r = await ctx.api.post(`/users/${u.id}/revoke-sessions`);
          status.textContent = `${r.revoked_sessions} session(s) of ${u.service_number} ended.`;
        } catch (error) { status.textContent = error.message; }
      } }, "Sign out everywhere")),
    reset);
}

async function renderMembers(ctx, node, allUsers) {
  const status = h("p", { role: "status" });
  const list = h("ul", { class: "list" });
  const load = async () => {
    const items = await ctx.api.get(`/operations/${ctx.op.id}/members`);
    mount(list, items.map((m) => {
      const role = select(OP_ROLES.map((r) => [r, r]), m.role, { name: "role", "aria-label": `Role of ${m.display_name}` });
      const group = h("input", { name: "group", value: m.group || "", maxLength: 64, "aria-label": `Group of ${m.display_name}` });
      return h("li", { class: "card" }, h("form", { class: "stack", onsubmit: async (e) => {
        e.preventDefault();
        try {
          await ctx.api.request("PUT", `/operations/${ctx.op.id}/members/${m.user_id}`, { body: { role: role.value, group: group.value.trim() || null } });
          status.textContent = `${m.display_name} updated.`;
        } catch (error) { status.textContent = error.message; }
      } },
      h("div", { class: "row-between" }, h("strong", {}, `${m.display_name} (${m.service_number})`),
        m.briefing_acknowledged ? badge("Briefing read", "ok") : badge("Briefing not read", "warn")),
      h("div", { class: "grid-2" }, h("div", { class: "field" }, h("span", { class: "label", "aria-hidden": "true" }, "Role"), role),
        h("div", { class: "field" }, h("span", { class: "label", "aria-hidden": "true" }, "Group"), group)),
      h("div", { class: "section-actions" }, h("button", { class: "button button-secondary", type: "submit" }, "Save"),
        h("button", { class: "button button-danger", type: "button", onclick: async () => {
          if (!confirm(`Remove ${m.display_name} from ${ctx.op.name}?`)) return;
          try { await ctx.api.request("DELETE", `/operations/${ctx.op.id}/members/${m.user_id}`); await load(); } catch (error) { status.textContent = error.message; }
        } }, "Remove"))));
    }));
    return items;
  };
  const current = await load().catch(() => []);
  const addUser = select([["", "Choose a person…"], ...allUsers.filter((u) => u.active && !current.some((m) => String(m.user_id) === String(u.id)))
    .map((u) => [u.id, `${u.display_name} (${u.service_number})`])], "", { name: "user" });
  const addRole = select(OP_ROLES.map((r) => [r, r]), "officer", { name: "add_role" });
  const addGroup = h("input", { name: "add_group", maxLength: 64 });
  const add = allUsers.length ? h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    if (!addUser.value) return;
    try {
      await ctx.api.request("PUT", `/operations/${ctx.op.id}/members/${addUser.value}`, { body: { role: addRole.value, group: addGroup.value.trim() || null } });
      status.textContent = "Added.";
      await renderMembers(ctx, node, allUsers);
    } catch (error) { status.textContent = error.message; }
  } }, h("h3", {}, "Add to the operation"), h("div", { class: "grid-2" }, field("Person", addUser), field("Role", addRole), field("Group (serial)", addGroup)),
  h("button", { class: "button", type: "submit" }, "Add")) : null;
  mount(node, h("h2", {}, `Members of ${ctx.op.name}`), status, list, add);
}
