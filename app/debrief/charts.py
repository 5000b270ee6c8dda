"""Charts as SVG text, drawn on the server so the report looks the same on screen, on paper and in a PDF.

No scripts, no external fonts or styles: each chart is one self-contained <svg> element with a <title>
and <desc> for screen readers, and every label escaped.
"""

from datetime import datetime
from xml.sax.saxutils import escape

from app.debrief.schemas import ActivityBucket, HistogramBin

FONT = "font-family='system-ui, -apple-system, Segoe UI, Roboto, sans-serif'"
INK, MUTED, GRID = "#1b1f24", "#57606a", "#d0d7de"
SERIES = [("rumour_reports", "Rumour reports", "#b3261e"), ("template_uses", "Template uses", "#0b5cad"),
          ("notifications", "Messages sent", "#6a3d9a")]


def _text(x: float, y: float, content: str, *, size: int = 11, anchor: str = "start", fill: str = INK,
          extra: str = "") -> str:
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' fill='{fill}' "
            f"{FONT} {extra}>{escape(content)}</text>")


def _open(ident: str, width: int, height: int, title: str, description: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='100%' "
            f"role='img' aria-labelledby='{ident}-t {ident}-d' preserveAspectRatio='xMidYMid meet'>"
            f"<title id='{ident}-t'>{escape(title)}</title><desc id='{ident}-d'>{escape(description)}</desc>")


def _nice_max(value: int) -> int:
    """A round axis maximum at or above value: 1, 2, 5, 10, 20, 50, ..."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def ruling_histogram(bins: list[HistogramBin]) -> str:
    width, height, left, bottom, top = 640, 220, 48, 40, 20
    plot_w, plot_h = width - left - 16, height - top - bottom
    peak = _nice_max(max((b.count for b in bins), default=0) or 1)
    total = sum(b.count for b in bins)
    description = "; ".join(f"{b.label}: {b.count}" for b in bins) or "no rumours were ruled"
    parts = [_open("ruling-chart", width, height, "Time from first report to ruling", description)]
    for tick in sorted({0, peak // 2, peak}):
        y = top + plot_h * (1 - tick / peak)
        parts.append(f"<line x1='{left}' x2='{width - 16}' y1='{y:.1f}' y2='{y:.1f}' stroke='{GRID}'/>")
        parts.append(_text(left - 6, y + 4, str(tick), anchor="end", fill=MUTED))
    slot = plot_w / max(len(bins), 1)
    for index, histogram_bin in enumerate(bins):
        bar_h = plot_h * histogram_bin.count / peak
        x = left + index * slot + slot * 0.15
        parts.append(f"<rect x='{x:.1f}' y='{top + plot_h - bar_h:.1f}' width='{slot * 0.7:.1f}' "
                     f"height='{bar_h:.1f}' fill='#0b5cad'/>")
        if histogram_bin.count:
            parts.append(_text(x + slot * 0.35, top + plot_h - bar_h - 4, str(histogram_bin.count), anchor="middle"))
        parts.append(_text(x + slot * 0.35, height - bottom + 16, histogram_bin.label, size=10, anchor="middle",
                           fill=MUTED))
    if total == 0:
        parts.append(_text(width / 2, top + plot_h / 2, "No rumour was ruled", anchor="middle", fill=MUTED))
    parts.append("</svg>")
    return "".join(parts)


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def activity(buckets: list[ActivityBucket]) -> str:
    """Three small bar charts on one time axis (reports, uses, messages differ by orders of magnitude, so
    each row has its own scale, printed at its left)."""
    width, row_h, left, top, gap = 640, 70, 120, 10, 14
    height = top + len(SERIES) * (row_h + gap) + 24
    description = "; ".join(f"{label}: {sum(getattr(b, key) for b in buckets)} in total"
                            for key, label, _colour in SERIES)
    parts = [_open("activity-chart", width, height, "Activity over time (UTC)", description or "no activity")]
    plot_w = width - left - 16
    slot = plot_w / max(len(buckets), 1)
    for row, (key, label, colour) in enumerate(SERIES):
        y0 = top + row * (row_h + gap)
        values = [getattr(bucket, key) for bucket in buckets]
        peak = _nice_max(max(values, default=0) or 1)
        parts.append(_text(left - 8, y0 + 14, label, anchor="end", size=11))
        parts.append(_text(left - 8, y0 + 28, f"max {peak}", anchor="end", size=9, fill=MUTED))
        parts.append(f"<line x1='{left}' x2='{width - 16}' y1='{y0 + row_h}' y2='{y0 + row_h}' stroke='{GRID}'/>")
        for index, value in enumerate(values):
            if value:
                bar_h = row_h * value / peak
                parts.append(f"<rect x='{left + index * slot:.1f}' y='{y0 + row_h - bar_h:.1f}' "
                             f"width='{max(slot - 1, 0.5):.1f}' height='{bar_h:.1f}' fill='{colour}'/>")
    if buckets:
        axis_y = height - 8
        ticks = sorted({0, len(buckets) // 2, len(buckets) - 1})
        for index in ticks:
            parts.append(_text(left + index * slot + slot / 2, axis_y, _clock(buckets[index].start), size=10,
                               anchor="middle", fill=MUTED))
    else:
        parts.append(_text(width / 2, height / 2, "No activity recorded", anchor="middle", fill=MUTED))
    parts.append("</svg>")
    return "".join(parts)
