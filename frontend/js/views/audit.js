// Auditor: search the audit log with filters, see totals, export CSV or JSON Lines (with the manifest
// that proves the export complete and untampered), and verify the chain.
import { h, mount, field, select, loading } from "../dom.js";

export const title = "Audit log";

function query(filters, extra = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...filters, ...extra })) if (value !== "" && value !== null && value !== undefined) params.set(key, value);
  return params.toString();
}

async function download(ctx, path, fallbackName) {
  const response = await ctx.api.request("GET", path, { raw: true });
  const disposition = response.headers.get("content-disposition") || "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return { name, toSeq: response.headers.get("x-audit-to-seq"), count: response.headers.get("x-audit-count") };
}

export default async function render(ctx) {
  const operations = await ctx.api.get("/operations").catch(() => []);
  const operation = select([["", "All operations"], ...operations.map((o) => [o.id, `${o.name}${o.exercise ? " (exercise)" : ""}`])], "", { name: "operation_id" });
  const action = h("input", { name: "action", placeholder: "e.g. escalation.created", maxLength: 64, autocomplete: "off" });
  const actor = h("input", { name: "actor_id", placeholder: "user id", autocomplete: "off" });
  const text = h("input", { type: "search", name: "q", placeholder: "words in target or details", maxLength: 200, autocomplete: "off" });
  const byAction = h("ul", { class: "row list", id: "audit-by-action" });
  const since = h("input", { type: "datetime-local", name: "since" });
  const until = h("input", { type: "datetime-local", name: "until" });
  const results = h("tbody", {});
  const totals = h("p", { role: "status", id: "audit-totals" });
  const verifyResult = h("div", { id: "verify-result", "aria-live": "polite" });
  const exportStatus = h("p", { role: "status", id: "export-status" });
  const more = h("button", { class: "button button-secondary", type: "button", hidden: true }, "Load more");
  let shown = 0;
  let nextAfter = null;

  const filters = () => ({ operation_id: operation.value, action: action.value.trim(), actor_id: actor.value.trim(), q: text.value.trim(),
    since: since.value ? new Date(since.value).toISOString() : "", until: until.value ? new Date(until.value).toISOString() : "" });

  const row = (e) => h("tr", {},
    h("td", { class: "mono" }, String(e.seq)), h("td", {}, new Date(e.at).toLocaleString()),
    h("td", {}, e.action), h("td", { class: "mono" }, `${e.actor_role || ""} ${e.actor_id ? String(e.actor_id).slice(0, 8) : "—"}`),
    h("td", { class: "mono" }, e.target_type ? `${e.target_type} ${String(e.target_id || "").slice(0, 8)}` : ""),
    h("td", { class: "mono" }, JSON.stringify(e.details || {})));

  async function search(append = false) {
    const page = await ctx.api.get(`/audit/events?${query(filters(), { limit: 100, after_seq: append ? nextAfter : "" })}`);
    if (!append) { results.replaceChildren(); shown = 0; }
    results.append(...page.events.map(row));
    shown += page.events.length;
    nextAfter = page.next_after_seq;
    more.hidden = !nextAfter;
    if (!append) await loadTotals();
    totals.textContent = `${shown} of ${total ?? "?"} matching events shown.`;
  }
  let total = null;
  async function loadTotals() {
    try {
      const t = await ctx.api.get(`/audit/totals?${query(filters())}`);
      total = t.total;
      mount(byAction, t.by_action.slice(0, 12).map((a) => h("li", {}, h("span", { class: "badge" }, `${a.action}: ${a.count}`))));
    } catch { total = null; }
  }
  more.addEventListener("click", () => search(true).catch(ctx.showError));

  const exportButton = (format) => h("button", { class: "button button-secondary", type: "button", id: `export-${format}`, onclick: async () => {
    try {
      exportStatus.textContent = "Exporting…";
      const saved = await download(ctx, `/audit/export?${query(filters(), { format })}`, `parley-audit.${format}`);
      let message = `Saved ${saved.name} (${saved.count} events).`;
      if (format === "csv") {
        // the manifest must describe exactly the downloaded rows: pin it to the export's last seq
        const manifest = await download(ctx, `/audit/export/manifest?${query(filters(), { format, to_seq: saved.toSeq })}`,
          "parley-audit-manifest.json");
        message += ` Manifest saved as ${manifest.name}.`;
      } else {
        message += " The manifest is its last line.";
      }
      exportStatus.textContent = `${message} Check it offline with: parley audit verify-export FILE --public-key KEY`;
    } catch (error) {
      exportStatus.textContent = error.message;
    }
  } }, format === "csv" ? "Export CSV + manifest" : "Export JSON Lines");

  const verify = h("button", { class: "button", type: "button", id: "verify", onclick: async () => {
    mount(verifyResult, loading("Checking the chain…"));
    try {
      const r = await ctx.api.get("/audit/verify");
      mount(verifyResult, h("p", { class: r.ok ? "badge badge-ok" : "error-text" }, r.ok
        ? `Chain intact: ${r.events_checked} events checked, head seq ${r.head_seq}.`
        : `Chain broken at seq ${r.first_bad_seq}. ${r.problem || ""}`),
      h("p", { class: "mono" }, `Head hash ${r.head_hash || "—"}`));
    } catch (error) {
      mount(verifyResult, h("p", { class: "error-text" }, error.message));
    }
  } }, "Verify the chain");

  mount(ctx.main, h("h1", {}, "Audit log"),
    h("form", { class: "card", id: "audit-filters", onsubmit: (e) => { e.preventDefault(); search().catch(ctx.showError); } },
      h("div", { class: "grid-2" }, field("Operation", operation), field("Action", action), field("Actor", actor), field("Text", text),
        field("From", since), field("Until", until)),
      h("div", { class: "section-actions" }, h("button", { class: "button", type: "submit" }, "Search"),
        ctx.role === "auditor" ? [exportButton("csv"), exportButton("jsonl")] : null),
      exportStatus),
    h("section", { class: "card" }, h("h2", {}, "Chain"), verify, verifyResult),
    totals, byAction,
    h("div", { class: "table-wrap" }, h("table", { id: "audit-table" },
      h("caption", { class: "sr-only" }, "Audit events"),
      h("thead", {}, h("tr", {}, ["Seq", "Time", "Action", "Actor", "Target", "Details"].map((c) => h("th", { scope: "col" }, c)))),
      results)),
    more);
  await search();
}
