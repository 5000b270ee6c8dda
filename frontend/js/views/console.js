// Bronze's console: the live rumour queue (grouped reports, sizes, new ones highlighted, optional sound),
// triage and ruling on a group, merge and split, and who has read the briefing.
import { h, mount, field, select, badge, timeNode, LABELS, loadingItem, announce } from "../dom.js";

export const title = "Rumour queue";
const STATUS_KIND = { new: "urgent", acknowledged: "warn", investigating: "info", resolved: "ok" };

export default async function render(ctx) {
  if (!ctx.op) return ctx.navigate("");
  const opId = ctx.op.id;
  let reports = [];
  let selectedGroup = null;
  const fresh = new Set();
  const queue = h("ol", { class: "list", id: "queue", "aria-label": "Rumour groups, most recent first" });
  const detail = h("section", { class: "card", id: "group-detail", "aria-live": "polite" },
    h("p", { class: "empty" }, "Choose a rumour to rule on it."));
  const streamState = h("span", { class: "badge", role: "status", id: "stream-state" }, "Connecting…");
  const sound = h("input", { type: "checkbox", id: "sound", checked: localStorage.getItem("parley-sound") === "1",
    onchange: () => localStorage.setItem("parley-sound", sound.checked ? "1" : "0") });
  const showResolved = h("input", { type: "checkbox", id: "show-resolved", onchange: () => draw() });
  let templates = [];

  // the server groups reports of the same rumour (GET .../escalation-queue); a group is ruled as one
  const groupsOf = () => reports.map((g) => {
    const members = (g.members || []).slice().sort((a, b) => a.created_at.localeCompare(b.created_at));
    const lead = { ...(members.find((m) => m.summary) || members[0] || {}), ...g, id: (members[0] || g).id };
    const latest = members[members.length - 1] || { created_at: g.latest_reported_at };
    return { id: String(g.id), members, lead, latest, status: g.status, outcome: g.outcome, size: g.size || members.length };
  }).sort((a, b) => (a.status === "resolved") - (b.status === "resolved") || b.latest.created_at.localeCompare(a.latest.created_at));

  function draw() {
    const groups = groupsOf().filter((g) => showResolved.checked || g.status !== "resolved");
    mount(queue, groups.length ? groups.map((g) => {
      const isFresh = g.members.some((m) => fresh.has(String(m.id)));
      return h("li", {}, h("button", { type: "button", class: ["card", "queue-item", isFresh && "fresh", g.status === "new" && "urgent"],
        "aria-pressed": String(selectedGroup === g.id), dataset: { groupId: g.id },
        onclick: () => { if (selectedGroup !== g.id) status.textContent = ""; selectedGroup = g.id; drawDetail(); draw(); } },
      h("span", { class: "row-between" },
        h("strong", {}, g.lead.summary || LABELS.categories[g.lead.category] || "Report without text"),
        h("span", { class: "row" }, isFresh ? badge("New", "urgent") : null,
          badge(`${g.size} report${g.size === 1 ? "" : "s"}`, g.size > 2 ? "warn" : ""),
          badge(LABELS.status[g.status] || g.status, STATUS_KIND[g.status]))),
      h("span", { class: "muted queue-meta" }, `${LABELS.categories[g.lead.category] || g.lead.category} · latest `,
        timeNode(g.latest.created_at), g.lead.reporter_name ? ` · ${g.lead.reporter_name}` : "")));
    }) : h("li", { class: "empty" }, "No open rumours."));
  }

  // The detail panel: its facts (status, reports) redraw on every live event; its forms are rebuilt only
  // for another group or after Bronze's own action, so a report arriving never wipes a ruling being typed.
  let current = null;
  let formsFor = null;
  let forms = null;
  const factsNode = h("div", {});
  const status = h("p", { role: "status" });
  const act = async (path, body, done) => {
    try {
      await ctx.api.post(path, body);
      status.textContent = done;
      announce(done);
      formsFor = null;
      await load();
    } catch (error) {
      status.textContent = error.fieldErrors?.length ? error.fieldErrors.join(" ") : error.message;
    }
  };
  // transitions name any report of the group and act on all of it
  const transition = (to, extra = {}) => act(`/escalations/${current.lead.id}/transition`, { to, ...extra },
    `Marked ${LABELS.status[to].toLowerCase()}.`);

  function facts(group) {
    const lead = group.lead;
    return [
      h("h2", {}, lead.summary || "Report without text"),
      h("p", { class: "row" }, badge(LABELS.status[group.status], STATUS_KIND[group.status]),
        group.outcome ? badge(`Outcome: ${LABELS.outcomes[group.outcome]}`, "ok") : null, badge(`${group.size} report(s)`)),
      h("h3", {}, "Reports"),
      h("ul", { class: "list" }, group.members.map((m) => h("li", { class: "report" },
        h("p", {}, h("strong", {}, m.reporter_name || "Officer"), " · ", timeNode(m.observed_at || m.created_at),
          ` · ${LABELS.categories[m.category] || m.category}`),
        m.summary ? h("p", { class: "prewrap" }, m.summary) : null,
        m.source_url ? h("p", {}, h("a", { href: m.source_url, rel: "noopener noreferrer", target: "_blank" }, "Source link")) : null,
        m.lat !== null && m.lat !== undefined ? h("p", { class: "muted" }, `Location ${m.lat}, ${m.lon} (±${Math.round(m.accuracy_m || 0)} m)`) : null,
        (m.attachments || []).map((a) => photoButton(ctx, a)),
        group.size > 1 ? h("button", { type: "button", class: "button button-secondary",
          onclick: () => act(`/escalations/${m.id}/split`, {}, "Taken out of the group.") }, "Not the same rumour: split out") : null))),
      h("div", { class: "section-actions" },
        group.status === "new" ? h("button", { class: "button", type: "button", id: "do-acknowledge", onclick: () => transition("acknowledged") }, "Acknowledge") : null,
        ["new", "acknowledged"].includes(group.status) ? h("button", { class: "button button-secondary", type: "button", onclick: () => transition("investigating") }, "Investigating") : null),
    ];
  }

  function buildForms(group) {
    const lead = group.lead;
    const outcome = select([["", "Choose an outcome…"], ...Object.entries(LABELS.outcomes)], lead.outcome || "", { name: "outcome" });
    const note = h("textarea", { name: "note", rows: 3, maxLength: 5000 }, lead.ruling_note || "");
    const counter = select([["", "No counter-message"], ...templates.map((t) => [t.id, `${t.title} (${t.language})`])],
      lead.counter_template_id || "", { name: "counter_template_id" });
    const mergeInto = select([["", "Choose a group…"], ...groupsOf().filter((g) => g.id !== group.id)
      .map((g) => [g.id, `${(g.lead.summary || LABELS.categories[g.lead.category] || "report").slice(0, 60)} (${g.size})`])], "", { name: "merge_into" });
    return h("div", {},
      h("form", { class: "stack", id: "ruling-form", onsubmit: (event) => {
        event.preventDefault();
        if (!outcome.value) { status.textContent = "Choose an outcome."; outcome.focus(); return; }
        const body = { outcome: outcome.value };
        if (note.value.trim()) body.note = note.value.trim();
        if (counter.value) body.counter_template_id = counter.value;
        transition("resolved", body);
      } },
      h("h3", {}, "Ruling"), field("Outcome", outcome), field("Note to the officers", note),
      field("Counter-message template", counter, "Officers who reported it see this reply to use."),
      h("button", { class: "button", type: "submit", id: "do-rule" }, "Send ruling")),
      h("form", { class: "stack", onsubmit: (event) => {
        event.preventDefault();
        if (mergeInto.value) act(`/escalations/${current.lead.id}/merge`, { into: mergeInto.value }, "Merged.");
      } }, h("h3", {}, "Same rumour as another group?"), field("Merge into", mergeInto),
      h("button", { class: "button button-secondary", type: "submit" }, "Merge")));
  }

  function drawDetail() {
    current = groupsOf().find((g) => g.id === selectedGroup) || null;
    if (!current) {
      formsFor = null;
      mount(detail, h("p", { class: "empty" }, "Choose a rumour to rule on it."));
      return;
    }
    if (formsFor !== current.id) {
      forms = buildForms(current);
      formsFor = current.id;
      mount(detail, factsNode, forms, status);
    }
    mount(factsNode, facts(current)); // the forms stay in place: focus and typing survive live updates
  }

  async function load() {
    reports = await ctx.api.get(`/operations/${opId}/escalation-queue`, { signal: ctx.signal });
    draw();
    drawDetail();
  }

  const onLive = (event) => {
    const data = event.detail || {};
    const id = data.id || data.escalation_id || data.escalation?.id;
    if (event.type === "escalation.created" && id) {
      fresh.add(String(id));
      announce("New rumour report");
      if (sound.checked) beep();
      setTimeout(() => { fresh.delete(String(id)); draw(); }, 30000);
    }
    load().catch(() => {});
  };
  for (const type of ["escalation.created", "escalation.updated", "reset"]) {
    ctx.events.addEventListener(type, onLive);
    ctx.onLeave(() => ctx.events.removeEventListener(type, onLive));
  }
  const onState = (event) => {
    streamState.textContent = event.detail === "live" ? "Live" : event.detail === "closed" ? "Not live" : "Reconnecting…";
    streamState.className = `badge ${event.detail === "live" ? "badge-ok" : "badge-warn"}`;
  };
  ctx.events.addEventListener("stream-state", onState);
  ctx.onLeave(() => ctx.events.removeEventListener("stream-state", onState));
  if (ctx.state.stream) onState({ detail: "live" });

  const briefing = h("section", { class: "card", id: "briefing-status" });
  mount(ctx.main,
    h("div", { class: "row-between" }, h("h1", {}, "Rumour queue"), streamState),
    h("div", { class: "row" }, h("label", { class: "check" }, sound, "Sound for new reports"),
      h("label", { class: "check" }, showResolved, "Show resolved")),
    h("div", { class: "console" }, h("section", { "aria-label": "Queue" }, queue), h("div", {}, detail, briefing)));
  mount(queue, loadingItem());
  ctx.api.get(`/operations/${opId}/templates`).then((items) => {
    templates = (items || []).filter((t) => t.usable !== false && (!t.status || t.status === "approved"));
    formsFor = null; // the counter-message list is ready: offer it
    drawDetail();
  }).catch(() => {});
  loadBriefing(ctx, briefing);
  await load();
}

async function loadBriefing(ctx, node) {
  try {
    const s = await ctx.api.get(`/operations/${ctx.op.id}/briefing/status`);
    mount(node, h("h2", {}, "Briefing read"),
      h("p", {}, badge(`${s.acknowledged} of ${s.members} acknowledged`, s.acknowledged === s.members ? "ok" : "warn")),
      s.not_acknowledged.length ? h("details", {}, h("summary", {}, `Not yet (${s.not_acknowledged.length})`),
        h("ul", {}, s.not_acknowledged.map((m) => h("li", {}, `${m.display_name} (${m.service_number})${m.group ? ` · ${m.group}` : ""}`)))) : null,
      s.not_acknowledged.length ? h("button", { class: "button button-secondary", type: "button", onclick: async () => {
        try {
          const r = await ctx.api.post(`/operations/${ctx.op.id}/briefing/remind`);
          announce(`Reminder sent to ${r.reminded}.`);
          node.append(h("p", { role: "status" }, `Reminder sent to ${r.reminded}.`));
        } catch (error) { ctx.showError(error); }
      } }, "Remind them") : null);
  } catch {
    node.hidden = true;
  }
}

/** Photos need the Bearer token, so they are fetched and shown from a blob: URL. */
function photoButton(ctx, attachment) {
  const holder = h("div", {});
  const button = h("button", { type: "button", class: "button button-secondary", onclick: async () => {
    try {
      const response = await ctx.api.request("GET", attachment.url || `/escalations/${attachment.escalation_id}/attachments/${attachment.id}`, { raw: true });
      const url = URL.createObjectURL(await response.blob());
      mount(holder, h("img", { src: url, alt: "Photo attached to the report", class: "photo" }));
    } catch (error) { ctx.showError(error); }
  } }, `Show photo (${attachment.width}×${attachment.height})`);
  holder.append(button);
  return holder;
}

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.1;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.2);
  } catch { /* sound is optional */ }
}
