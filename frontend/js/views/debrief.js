// The debrief: for Bronze, Gold and auditors a printable report of the operation (figures, the server's SVG
// charts, commendations, appraisal entries, timeline) with HTML/PDF/CSV downloads; for every member a form
// to add an appraisal entry (what worked, what didn't, what to change), with or without their name.
import { h, mount, field, select, timeNode, loading, LABELS } from "../dom.js";

export const title = "Debrief";

const OUTCOMES = { ...LABELS.outcomes, open: "Open" };
const KINDS = [["worked", "What worked"], ["didnt_work", "What didn't work"], ["change", "What to change"]];

// The page's own stylesheet (print rules, chart sizing), added once; the app's CSP allows only files.
function ensureStylesheet() {
  if (document.getElementById("debrief-css")) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/css/debrief.css", id: "debrief-css" }));
}

const pct = (value) => (value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`);

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

function table(headers, rows) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, headers.map((label) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, rows.length ? rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))
      : h("tr", {}, h("td", { colspan: String(headers.length), class: "muted" }, "None recorded")))));
}

const counts = (object, labels = {}) => Object.entries(object || {}).map(([key, n]) => [labels[key] || key, String(n)]);

// The server draws the charts; as <img> an SVG can run no script and fetch nothing.
const chart = (svg, alt) => (svg ? h("img", { src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`,
  alt, class: "debrief-chart" }) : null);

async function download(ctx, format) {
  const response = await ctx.api.request("GET", `/operations/${ctx.op.id}/debrief?format=${format}`, { raw: true });
  const disposition = response.headers.get("content-disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || `debrief.${format}`;
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function report(d) {
  const r = d.rumours, n = d.notifications, t = d.templates, b = d.briefing;
  const section = (heading, ...children) => h("section", { class: "card" }, h("h2", {}, heading), ...children);
  return h("div", { class: "debrief-report" },
    d.exercise ? h("p", { class: "badge badge-warn", role: "note" }, "EXERCISE — NOT A LIVE OPERATION") : null,
    h("p", { class: "muted" }, `Status ${d.operation.status} · went live `,
      d.operation.went_live_at ? timeNode(d.operation.went_live_at) : "—", " · closed ",
      d.operation.closed_at ? timeNode(d.operation.closed_at) : "—", " · report ", timeNode(d.generated_at)),
    section("Rumours",
      h("p", {}, `${r.reports} reports in ${r.groups} rumour groups. First report to acknowledgement: median `
        + `${duration(r.time_to_ack_s.median)}, 90th percentile ${duration(r.time_to_ack_s.p90)}. To ruling: median `
        + `${duration(r.time_to_ruling_s.median)}, 90th percentile ${duration(r.time_to_ruling_s.p90)}.`),
      h("div", { class: "grid-2" },
        h("div", {}, h("h3", {}, "By outcome"), table(["Outcome", "Rumours"], counts(r.by_outcome, OUTCOMES))),
        h("div", {}, h("h3", {}, "By category"), table(["Category", "Reports"], counts(r.by_category, LABELS.categories)))),
      h("h3", {}, "Largest rumour groups"),
      table(["Rumour", "Reports", "Outcome"], r.largest_groups.map((g) => [g.summary || "(no text)", String(g.size),
        OUTCOMES[g.outcome] || g.outcome])),
      h("h3", {}, "Time from first report to ruling"),
      chart(d.charts.ruling_time, d.ruling_time_histogram.map((x) => `${x.label}: ${x.count}`).join("; "))),
    section("Activity over time", chart(d.charts.activity, "Rumour reports, template uses and messages per time bucket")),
    section("Messages to officers",
      h("p", {}, `${n.sent} sent; delivered ${pct(n.delivery_rate)}, opened ${pct(n.open_rate)}, acknowledged `
        + `${pct(n.ack_rate)}; time to acknowledge: median ${duration(n.time_to_ack_s.median)}, 90th percentile `
        + `${duration(n.time_to_ack_s.p90)}.`)),
    section("Templates", h("p", {}, `${t.uses} uses.`),
      table(["Template", "Uses"], t.by_template.map((x) => [x.title, String(x.uses)])),
      h("div", { class: "grid-2" },
        h("div", {}, h("h3", {}, "By channel"), table(["Channel", "Uses"], counts(t.by_channel, LABELS.channels))),
        h("div", {}, h("h3", {}, "By category"), table(["Category", "Uses"], counts(t.by_category))))),
    section("Briefing", h("p", {}, `${b.acknowledged_before_live} of ${b.members} members acknowledged the strategy `
      + `and briefing before the operation went live (${pct(b.acknowledged_before_live_rate)}).`)),
    section("Commendations", d.commendations.length ? h("ul", { class: "list" }, d.commendations.map((c) => h("li", {},
      h("p", { class: "prewrap" }, h("strong", {}, c.note)),
      h("p", { class: "muted" }, timeNode(c.created_at), ` · ${c.officer_name || "an officer"}: “${c.target_summary || ""}”`
        + ` · commended by ${c.author_name || "a former member"}`)))) : h("p", { class: "empty" }, "None.")),
    section("Appraisal", h("p", { class: "muted" }, d.appraisals_note),
      KINDS.map(([kind, heading]) => {
        const entries = d.appraisals.filter((a) => a.kind === kind);
        return [h("h3", {}, heading), entries.length ? h("ul", {}, entries.map((a) => h("li", { class: "prewrap" },
          a.text, h("span", { class: "muted" }, ` — ${a.author_name || "unnamed"}, `), timeNode(a.created_at))))
          : h("p", { class: "empty" }, "None.")];
      })),
    section("Timeline", table(["Time", "What", "Detail"], d.timeline.map((e) => [timeNode(e.at), e.title, e.detail || ""]))));
}

function appraisalForm(ctx, onSaved) {
  const kind = select(KINDS, "worked", { name: "kind" });
  const text = h("textarea", { name: "text", required: true, maxLength: 5000, rows: 3 });
  const anonymous = h("input", { type: "checkbox", name: "anonymous", id: "appraisal-anonymous" });
  const status = h("p", { role: "status" });
  return h("form", { class: "card debrief-form", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await ctx.api.post(`/operations/${ctx.op.id}/appraisals`,
        { kind: kind.value, text: text.value, anonymous: anonymous.checked });
      text.value = "";
      status.textContent = anonymous.checked ? "Added without your name." : "Added.";
      await onSaved();
    } catch (error) { ctx.showError(error); }
  } }, h("h2", {}, "Add to the appraisal"), field("Kind", kind), field("What happened", text),
  h("div", { class: "field" }, anonymous, " ", h("label", { htmlFor: anonymous.id }, "Leave my name out of the report"),
    h("p", { class: "hint" }, "The audit log still records who wrote each entry.")),
  h("button", { class: "button", type: "submit" }, "Add"), status);
}

export default async function render(ctx) {
  if (!ctx.op) return ctx.navigate("");
  const mayRead = ctx.isCommand || ctx.role === "auditor";
  const body = h("div", {}, mayRead ? loading() : null);
  const load = async () => {
    if (!mayRead) return;
    const data = await ctx.api.get(`/operations/${ctx.op.id}/debrief`, { signal: ctx.signal });
    mount(body, report(data));
  };
  const tools = mayRead ? h("div", { class: "debrief-tools" },
    h("button", { class: "button", type: "button", onclick: () => window.print() }, "Print"),
    ["html", "pdf", "csv"].map((format) => {
      const button = h("button", { class: "button", type: "button", onclick: async () => {
        button.disabled = true;
        try { await download(ctx, format); } catch (error) { ctx.showError(error); }
        button.disabled = false;
      } }, `Download ${format.toUpperCase()}`);
      return button;
    })) : null;
  const member = Boolean(ctx.opRole);
  ensureStylesheet();
  // command reads the report first; an officer comes here to add an appraisal entry
  mount(ctx.main, h("h1", {}, `Debrief: ${ctx.op.name}`),
    ctx.op.exercise ? h("p", { class: "badge badge-warn" }, "EXERCISE") : null,
    tools, body, member ? appraisalForm(ctx, load) : null);
  await load();
}
