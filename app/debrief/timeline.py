"""What happened when: the debrief's timeline, activity over time and the time-to-ruling distribution.

These read the rows of the other domains (never write them). The figures themselves come from each
domain's own figure function; only the per-event detail a chart or a timeline needs is read here.
"""

import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import BigInteger, cast, func, select
from sqlmodel import Session

from app.debrief.models import Commendation
from app.debrief.schemas import ActivityBucket, HistogramBin, TimelineEntry
from app.escalations.models import Escalation, EscalationGroup
from app.notifications.models import Notification
from app.operations.engagement import labels
from app.operations.models import Decision, Operation, OperationDocument
from app.templates.models import Template, TemplateUse, TemplateVersion

# Buckets of the time-to-ruling chart: (upper bound in seconds or None, label).
RULING_BINS: list[tuple[float | None, str]] = [
    (5 * 60, "under 5 min"), (15 * 60, "5-15 min"), (30 * 60, "15-30 min"), (60 * 60, "30-60 min"),
    (2 * 3600, "1-2 h"), (4 * 3600, "2-4 h"), (None, "over 4 h"),
]
# Activity chart bucket widths, smallest first; the first that gives at most MAX_BUCKETS is used.
BUCKET_MINUTES = [5, 10, 15, 30, 60, 120, 240, 480, 1440]
MAX_BUCKETS = 48
OUTCOME_WORDS = {"false": "false", "true": "true", "unverified": "unverified", "duplicate": "a duplicate"}


def _entry(**fields) -> TimelineEntry:
    """Entries are built from our own rows, already typed: skip re-validating thousands of them."""
    return TimelineEntry.model_construct(**fields)


def _live_groups(session: Session, operation_id: uuid.UUID) -> list[EscalationGroup]:
    """Rumour groups as they stand: groups merged into another are counted there, not on their own."""
    return list(session.scalars(
        select(EscalationGroup).where(EscalationGroup.operation_id == operation_id,
                                      EscalationGroup.merged_into_id.is_(None))
    ))


def ruling_histogram(groups: list[EscalationGroup]) -> list[HistogramBin]:
    counts: Counter = Counter()
    for group in groups:
        if group.resolved_at is None:
            continue
        seconds = (group.resolved_at - group.first_reported_at).total_seconds()
        label = next(label for bound, label in RULING_BINS if bound is None or seconds < bound)
        counts[label] += 1
    return [HistogramBin(label=label, upto_s=bound, count=counts[label]) for bound, label in RULING_BINS]


def _first_reports(session: Session, operation_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """Each group's first report, in a line, for the timeline."""
    rows = session.execute(
        select(Escalation.group_id, Escalation.summary, Escalation.source_url)
        .where(Escalation.operation_id == operation_id).order_by(Escalation.reported_at.desc())
    ).all()
    # Newest first, so the oldest report of each group is the one left in the dict.
    return {group_id: (summary or source_url or "(no text)") for group_id, summary, source_url in rows}


def _template_titles(session: Session, template_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not template_ids:
        return {}
    rows = session.execute(
        select(Template.id, TemplateVersion.title)
        .join(TemplateVersion, TemplateVersion.id == Template.live_version_id)
        .where(Template.id.in_(template_ids))
    ).all()
    return dict(rows)


def _rumour_entries(
    session: Session, groups: list[EscalationGroup], operation_id: uuid.UUID
) -> list[TimelineEntry]:
    firsts = _first_reports(session, operation_id)
    titles = _template_titles(session, {g.counter_template_id for g in groups if g.counter_template_id})
    entries = []
    for group in groups:
        summary = firsts.get(group.id, "(no text)")
        size = f" ({group.size} reports)" if group.size > 1 else ""
        entries.append(_entry(at=group.first_reported_at, kind="rumour_reported", ref_id=group.id,
                                     title=f"Rumour reported: {group.category}{size}", detail=summary))
        if group.acknowledged_at:
            entries.append(_entry(at=group.acknowledged_at, kind="rumour_acknowledged",
                                         ref_id=group.id, title="Rumour acknowledged by command",
                                         detail=summary))
        if group.resolved_at:
            outcome = OUTCOME_WORDS.get(group.outcome or "", group.outcome or "resolved")
            entries.append(_entry(at=group.resolved_at, kind="rumour_ruled", ref_id=group.id,
                                         title=f"Rumour ruled {outcome}; the reporters were told",
                                         detail=group.ruling_note or summary))
            if group.counter_template_id:
                entries.append(_entry(
                    at=group.resolved_at, kind="counter_message", ref_id=group.counter_template_id,
                    title="Counter-message issued", detail=titles.get(group.counter_template_id)))
    return entries


def _operation_entries(session: Session, operation: Operation) -> list[TimelineEntry]:
    entries = []
    if operation.went_live_at:
        entries.append(_entry(at=operation.went_live_at, kind="operation",
                                     title="Operation went live"))
    if operation.closed_at:
        entries.append(_entry(at=operation.closed_at, kind="operation", title="Operation closed"))
    documents = select(OperationDocument).where(OperationDocument.operation_id == operation.id)
    for document in session.scalars(documents):
        what = "Strategy" if document.kind == "strategy" else "Briefing"
        narrowed = (f"Stricter than the strategy on: {labels(document.restrictions)}"
                    if document.restrictions else None)
        entries.append(_entry(at=document.created_at, kind=document.kind, ref_id=document.id,
                                     title=f"{what} version {document.version} published", detail=narrowed))
    for decision in session.scalars(select(Decision).where(Decision.operation_id == operation.id)):
        entries.append(_entry(at=decision.created_at, kind="decision", ref_id=decision.id,
                                     title=f"Decision: {decision.decision}", detail=decision.rationale))
    return entries


def timeline(session: Session, operation: Operation, groups: list[EscalationGroup]) -> list[TimelineEntry]:
    entries = _operation_entries(session, operation) + _rumour_entries(session, groups, operation.id)
    # A ruling's messages to its reporters are part of the ruling entry, not entries of their own.
    notifications = select(Notification).where(Notification.operation_id == operation.id,
                                               Notification.kind != "rumour_ruling")
    for notification in session.scalars(notifications):
        # A sensitive message's words stay out of an exported report; its title says what it was.
        entries.append(_entry(at=notification.created_at, kind="notification", ref_id=notification.id,
                                     title=f"Message sent: {notification.title}",
                                     detail=None if notification.sensitive else notification.body))
    commendations = select(Commendation).where(Commendation.operation_id == operation.id)
    for commendation in session.scalars(commendations):
        entries.append(_entry(at=commendation.created_at, kind="commendation", ref_id=commendation.id,
                                     title=f"Commendation ({commendation.target_type.replace('_', ' ')})",
                                     detail=commendation.note))
    return sorted(entries, key=lambda entry: entry.at)


# (series, timestamp column, operation column) behind the activity chart
ACTIVITY_SERIES = [
    ("rumour_reports", Escalation.created_at, Escalation.operation_id),
    ("template_uses", TemplateUse.created_at, TemplateUse.operation_id),
    ("notifications", Notification.created_at, Notification.operation_id),
]


def _epoch_seconds(session: Session, column):
    """Whole seconds since 1970 of a UTC timestamp column, in SQL (SQLite keeps UTC text; strftime reads it)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)


def activity(session: Session, operation: Operation) -> list[ActivityBucket]:
    """Rumour reports, template uses and messages per time bucket, from the first to the last of them.
    The database counts the buckets: a large operation's 50,000 uses never travel to Python."""
    bounds = [session.execute(select(func.min(column), func.max(column)).where(op_column == operation.id)).one()
              for _name, column, op_column in ACTIVITY_SERIES]
    stamps = [moment for pair in bounds for moment in pair if moment is not None]
    if not stamps:
        return []
    start, end = min(stamps), max(stamps)
    minutes = next((m for m in BUCKET_MINUTES if (end - start) / timedelta(minutes=m) < MAX_BUCKETS),
                   BUCKET_MINUTES[-1])
    width = timedelta(minutes=minutes)
    # Buckets start on a whole multiple of the width, so 15-minute buckets read 10:00, 10:15, ...
    origin = start.replace(minute=0, second=0, microsecond=0)
    origin += width * ((start - origin) // width)
    count = int((end - origin) // width) + 1
    counts: dict[str, dict[int, int]] = {}
    for name, column, op_column in ACTIVITY_SERIES:
        bucket = ((_epoch_seconds(session, column) - int(origin.timestamp())) // int(width.total_seconds()))
        rows = session.execute(select(bucket.label("bucket"), func.count()).where(op_column == operation.id)
                               .group_by("bucket")).all()
        counts[name] = {int(index): total for index, total in rows}
    return [ActivityBucket(start=origin + width * i, **{name: counts[name].get(i, 0) for name, _c, _o in
                                                         ACTIVITY_SERIES})
            for i in range(count)]
