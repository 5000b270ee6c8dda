"""The debrief as a self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched), as PDF
(that same page printed by Chromium through Playwright) and its figures as CSV.

Every piece of text from the database goes through `escape`; only the chart SVG, built and escaped in
charts.py, is inserted as markup.
"""

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from html import escape
from typing import Any

from app.core.config import Settings
from app.core.errors import AppError
from app.debrief.schemas import APPRAISAL_HEADINGS, AppraisalKind, DebriefOut, Spread

EXERCISE_BANNER = "EXERCISE — NOT A LIVE OPERATION"


class PdfUnavailable(AppError):
    status, title, type_slug = 503, "PDF export unavailable", "pdf-unavailable"


# --------------------------------------------------------------------------------------------- helpers


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]], caption: str | None = None,
           css_class: str = "") -> str:
    head = "".join(f"<th scope='col'>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    caption_html = f"<caption>{escape(caption)}</caption>" if caption else ""
    class_attr = f" class='{css_class}'" if css_class else ""
    body = body or _empty_row(headers)
    return f"<table{class_attr}>{caption_html}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _empty_row(headers: Iterable[str]) -> str:
    return f"<tr><td colspan='{len(list(headers))}' class='muted'>None recorded</td></tr>"


def _counts(counts: dict[str, int], label: str, *, by_size: bool = True) -> str:
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0])) if by_size else list(counts.items())
    return _table([label, "Count"], rows)


def _spread(spread: Spread) -> str:
    return f"median {duration(spread.median)}, 90th percentile {duration(spread.p90)}"


def _figure(label: str, value: Any) -> str:
    return (f"<div class='figure'><div class='value'>{escape(str(value))}</div>"
            f"<div class='label'>{escape(label)}</div></div>")


def _group_row(group: dict[str, Any]) -> list[Any]:
    first = group.get("first_reported_at") or ""
    return [group.get("summary") or "(no text)", group.get("size", ""),
            first[:16].replace("T", " ") + " UTC" if first else "—", group.get("outcome") or "open"]


# ------------------------------------------------------------------------------------------------ HTML

CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; margin: 0;
       padding: 24px; max-width: 960px; margin-inline: auto; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid #d0d7de;
     padding-bottom: 4px; break-after: avoid; } h3 { font-size: 15px; margin: 16px 0 6px; break-after: avoid; }
.meta, .muted { color: #57606a; }
.exercise { background: #ffdf5d; color: #1b1f24; border: 3px solid #1b1f24; font-weight: 700; text-align: center;
            padding: 8px; letter-spacing: .08em; margin-bottom: 16px; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 8px; margin: 12px 0; }
.figure { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 10px; break-inside: avoid; }
.figure .value { font-size: 22px; font-weight: 700; } .figure .label { color: #57606a; font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
tr { break-inside: avoid; } caption { text-align: left; font-weight: 600; padding: 4px 0; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.chart { break-inside: avoid; margin: 8px 0 16px; }
blockquote { margin: 6px 0; padding: 6px 10px; border-left: 4px solid #0b5cad; background: #f6f8fa; }
ul.entries { padding-left: 18px; } ul.entries li { margin: 4px 0; break-inside: avoid; }
table.timeline td:first-child { white-space: nowrap; }
footer { margin-top: 32px; font-size: 12px; color: #57606a; }
@media print { body { padding: 0; } .exercise { position: static; } }
"""


def _header(debrief: DebriefOut) -> str:
    op = debrief.operation
    banner = f"<div class='exercise' role='note'>{EXERCISE_BANNER}</div>" if debrief.exercise else ""
    return (f"{banner}<header><h1>Debrief: {escape(op.name)}</h1>"
            f"<p class='meta'>Status {escape(op.status)}{' · exercise' if op.exercise else ''} · planned "
            f"{_when(op.starts_at)} to {_when(op.ends_at)} · went live {_when(op.went_live_at)} · closed "
            f"{_when(op.closed_at)}<br>Report generated {_when(debrief.generated_at)}</p></header>")


def _summary(debrief: DebriefOut) -> str:
    return "<div class='figures'>" + "".join([
        _figure("rumour reports", debrief.rumours.reports), _figure("rumour groups", debrief.rumours.groups),
        _figure("messages sent", debrief.notifications.sent), _figure("template uses", debrief.templates.uses),
        _figure("briefed before live", _rate(debrief.briefing.acknowledged_before_live_rate)),
        _figure("commendations", len(debrief.commendations)),
    ]) + "</div>"


def _rumours(debrief: DebriefOut) -> str:
    rumours = debrief.rumours
    return (
        "<section><h2>Rumours</h2>"
        f"<p>{rumours.reports} reports in {rumours.groups} rumour groups.</p>"
        f"<p>First report to acknowledgement: {_spread(rumours.time_to_ack_s)}.<br>"
        f"First report to ruling: {_spread(rumours.time_to_ruling_s)}.</p>"
        f"<div class='cols'><div><h3>By outcome</h3>{_counts(rumours.by_outcome, 'Outcome', by_size=False)}</div>"
        f"<div><h3>By category</h3>{_counts(rumours.by_category, 'Category')}</div></div>"
        "<h3>Largest rumour groups</h3>"
        f"{_table(['Rumour', 'Reports', 'First report', 'Outcome'], [_group_row(g) for g in rumours.largest_groups])}"
        f"<div class='chart'><h3>Time from first report to ruling</h3>"
        f"{debrief.charts['ruling_time']}</div></section>"
    )


def _activity(debrief: DebriefOut) -> str:
    return f"<section><h2>Activity over time</h2><div class='chart'>{debrief.charts['activity']}</div></section>"


def _notifications(debrief: DebriefOut) -> str:
    n = debrief.notifications
    return (
        "<section><h2>Messages to officers</h2><div class='figures'>"
        + _figure("messages sent", n.sent) + _figure("delivered", _rate(n.delivery_rate))
        + _figure("opened", _rate(n.open_rate)) + _figure("acknowledged", _rate(n.ack_rate))
        + f"</div><p>Time to acknowledge: {_spread(n.time_to_ack_s)}.</p></section>"
    )


def _templates(debrief: DebriefOut) -> str:
    t = debrief.templates
    rows = [[row.get("title", ""), row.get("uses", 0),
             ", ".join(f"{k} {v}" for k, v in sorted((row.get("by_channel") or {}).items()))] for row in t.by_template]
    return (
        f"<section><h2>Templates</h2><p>{t.uses} uses of approved templates.</p>"
        f"{_table(['Template', 'Uses', 'By channel'], rows)}"
        f"<div class='cols'><div><h3>By channel</h3>{_counts(t.by_channel, 'Channel')}</div>"
        f"<div><h3>By category</h3>{_counts(t.by_category, 'Category')}</div></div></section>"
    )


def _briefing(debrief: DebriefOut) -> str:
    b = debrief.briefing
    return (
        "<section><h2>Briefing</h2>"
        f"<p>{b.acknowledged_before_live} of {b.members} members had acknowledged the strategy and briefing before "
        f"the operation went live ({_rate(b.acknowledged_before_live_rate)}). {b.acknowledged_current} have "
        f"acknowledged the current versions (strategy v{b.strategy_version}, briefing v{b.briefing_version}).</p>"
        "</section>"
    )


def _commendations(debrief: DebriefOut) -> str:
    items = "".join(
        f"<li><blockquote>{escape(c.note)}</blockquote><span class='muted'>{escape(_when(c.created_at))} · "
        f"{escape(c.target_type.value.replace('_', ' '))}"
        f"{' by ' + escape(c.officer_name) if c.officer_name else ''}: “{escape(c.target_summary or '')}” · "
        f"commended by {escape(c.author_name or 'a former member')}</span></li>"
        for c in debrief.commendations)
    return f"<section><h2>Commendations</h2><ul class='entries'>{items or '<li class=muted>None</li>'}</ul></section>"


def _appraisals(debrief: DebriefOut) -> str:
    parts = [f"<section><h2>Appraisal</h2><p class='muted'>{escape(debrief.appraisals_note)}</p>"]
    for kind in AppraisalKind:
        entries = [a for a in debrief.appraisals if a.kind == kind]
        items = "".join(
            f"<li>{escape(a.text)} <span class='muted'>— {escape(a.author_name or 'unnamed')}, "
            f"{escape(_when(a.created_at))}</span></li>" for a in entries)
        parts.append(f"<h3>{escape(APPRAISAL_HEADINGS[kind])}</h3>"
                     f"<ul class='entries'>{items or '<li class=muted>None</li>'}</ul>")
    return "".join(parts) + "</section>"


def _timeline(debrief: DebriefOut) -> str:
    rows = [[_when(e.at), e.title, e.detail or ""] for e in debrief.timeline]
    return f"<section><h2>Timeline</h2>{_table(['Time', 'What', 'Detail'], rows, css_class='timeline')}</section>"


def html(debrief: DebriefOut) -> str:
    title = f"{'[EXERCISE] ' if debrief.exercise else ''}Debrief: {debrief.operation.name}"
    footer_exercise = f"{EXERCISE_BANNER}. " if debrief.exercise else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"{_header(debrief)}<main>{_summary(debrief)}{_rumours(debrief)}{_activity(debrief)}"
        f"{_notifications(debrief)}{_templates(debrief)}{_briefing(debrief)}{_commendations(debrief)}"
        f"{_appraisals(debrief)}{_timeline(debrief)}</main>"
        f"<footer>{footer_exercise}Generated by Parley from the operation's records. Exporting this report is "
        "recorded in the audit log.</footer></body></html>"
    )


# ------------------------------------------------------------------------------------------------- CSV

CSV_HEADER = ["section", "figure", "key", "value"]


def _safe(cell: Any) -> Any:
    """Spreadsheets run cells that start with = + - @ as formulas: quote text that does."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return "" if cell is None else cell


def figure_rows(debrief: DebriefOut) -> Iterator[list[Any]]:
    op = debrief.operation
    yield ["operation", "name", "", op.name]
    yield ["operation", "exercise", "", str(debrief.exercise).lower()]
    yield ["operation", "status", "", op.status]
    r = debrief.rumours
    yield ["rumours", "reports", "", r.reports]
    yield ["rumours", "groups", "", r.groups]
    yield from (["rumours", "by_outcome", k, v] for k, v in r.by_outcome.items())
    yield from (["rumours", "by_category", k, v] for k, v in sorted(r.by_category.items()))
    for name in ("time_to_ack_s", "time_to_ruling_s"):
        spread = getattr(r, name)
        yield from (["rumours", name, key, getattr(spread, key)] for key in ("median", "p90"))
    yield from (["rumours", "largest_group", _group_row(g)[0], _group_row(g)[1]] for g in r.largest_groups)
    yield from (["rumours", "time_to_ruling_histogram", b.label, b.count] for b in debrief.ruling_time_histogram)
    n = debrief.notifications
    for key in ("sent", "targets", "delivery_rate", "open_rate", "ack_rate"):
        yield ["notifications", key, "", getattr(n, key)]
    yield from (["notifications", "time_to_ack_s", key, getattr(n.time_to_ack_s, key)]
                for key in ("median", "p90"))
    t = debrief.templates
    yield ["templates", "uses", "", t.uses]
    yield from (["templates", "by_template", row.get("title", ""), row.get("uses", 0)] for row in t.by_template)
    yield from (["templates", "by_channel", k, v] for k, v in sorted(t.by_channel.items()))
    yield from (["templates", "by_category", k, v] for k, v in sorted(t.by_category.items()))
    yield from (["briefing", key, "", value] for key, value in debrief.briefing.model_dump().items())
    yield ["commendations", "count", "", len(debrief.commendations)]
    for kind in AppraisalKind:
        yield ["appraisals", "by_kind", kind.value, sum(1 for a in debrief.appraisals if a.kind == kind)]
    for bucket in debrief.activity:
        start = bucket.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        for key in ("rumour_reports", "template_uses", "notifications"):
            yield ["activity", key, start, getattr(bucket, key)]


def csv_figures(debrief: DebriefOut) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows([_safe(cell) for cell in row] for row in figure_rows(debrief))
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------- PDF

PDF_TIMEOUT_MS = 60_000


def pdf(page_html: str, settings: Settings) -> bytes:
    """Chromium's own print to PDF, through Playwright, of exactly the HTML export. The page may fetch
    nothing: every request it tries is aborted (the HTML is self-contained anyway)."""
    if not settings.chromium_path.exists():
        raise PdfUnavailable(f"Chromium was not found at {settings.chromium_path}; export HTML and print it.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(settings.chromium_path), timeout=PDF_TIMEOUT_MS,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.abort())
            page.set_content(page_html, wait_until="load", timeout=PDF_TIMEOUT_MS)
            return page.pdf(format="A4", print_background=True, prefer_css_page_size=True,
                            display_header_footer=False)
        finally:
            browser.close()


def filename(debrief: DebriefOut, extension: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", debrief.operation.name.lower()).strip("-")[:60] or "operation"
    prefix = "EXERCISE-" if debrief.exercise else ""
    return f"{prefix}debrief-{slug}-{debrief.generated_at.strftime('%Y%m%d-%H%M')}.{extension}"
