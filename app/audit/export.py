"""Streamed exports (CSV, JSON Lines) and their signed manifests.

An export is pinned to the chain head when it starts (`to_seq`), so its bytes depend only on its
filters: the CSV manifest, fetched later with the same filters and that `to_seq`, describes exactly the
bytes that were downloaded. Rows are read in keyset batches, each in its own short transaction (on
SQLite a long read would otherwise hold the writers' lock for the whole download), and written out as
they come: memory stays flat however large the export.
"""

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import String, func, select, type_coerce
from sqlmodel import Session

from app.audit import signing
from app.audit.chain import ARCHIVED_DETAILS, EXPORT_FIELDS, GENESIS_HASH, canonical, export_line
from app.audit.service import AUDIT_TABLE, COLUMNS, AuditFilter, ensure_filter_visible, head, reading
from app.audit.writer import AuditAction, record
from app.auth.models import User
from app.core.config import Settings
from app.core.permissions import Permission, ensure
from app.core.types import iso, utcnow

ExportFormat = Literal["csv", "jsonl"]
# Rows per database read: small enough that a batch's Python objects stay a few megabytes (the export's
# memory is flat at about one batch), large enough that the per-query cost disappears.
EXPORT_BATCH = 2_000
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
COMPLETE_SCOPE = ("Complete: every event of the chain from first_seq to last_seq, linked by prev_hash "
                  "from the manifest's prev_hash.")
FILTERED_SCOPE = ("Filtered: each included event (listed in seqs) is proven by its hash, but a filtered "
                  "export cannot prove that no other matching event exists. Check the listed seqs against a "
                  "complete export of the same seq range to prove that.")


@dataclass(frozen=True)
class ExportPlan:
    format: ExportFormat
    filters: AuditFilter  # to_seq pinned to the head at planning time
    count: int
    first_seq: int | None
    last_seq: int | None
    head_seq: int
    head_hash: str
    exercise: bool = False  # the filter names an exercise: the file name and manifest say so

    @property
    def file_name(self) -> str:
        parts = ["EXERCISE", "parley-audit"] if self.exercise else ["parley-audit"]
        f = self.filters
        if f.operation_id:
            parts.append(f"op-{str(f.operation_id)[:8]}")
        if f.actor_id:
            parts.append(f"actor-{str(f.actor_id)[:8]}")
        if f.action:
            parts.append(f.action.replace(".", "-"))
        if f.q:
            parts.append("search")
        if f.since or f.until:
            parts.append("timed")
        parts.append(f"seq{self.first_seq}-{self.last_seq}" if self.count else "empty")
        return re.sub(r"[^A-Za-z0-9._-]", "_", "_".join(parts)) + f".{self.format}"


def plan_export(session: Session, *, actor: User, filters: AuditFilter, fmt: ExportFormat) -> ExportPlan:
    """Check the caller may export with these filters and pin the export to the current head."""
    ensure(actor.role, Permission.AUDIT_EXPORT)
    operation = ensure_filter_visible(session, actor=actor, filters=filters)
    plan = pin(session, filters=filters, fmt=fmt)
    return replace(plan, exercise=bool(operation and operation.exercise))


def pin(session: Session, *, filters: AuditFilter, fmt: ExportFormat) -> ExportPlan:
    """The export of `filters` up to the current head (no permission check: callers check)."""
    head_seq, head_hash = head(session)
    to_seq = head_seq if filters.to_seq is None else min(filters.to_seq, head_seq)
    # a range that starts beyond the head is empty; keep it a valid (not reversed) range
    to_seq = max(to_seq, filters.from_seq or 0)
    pinned = replace(filters, to_seq=to_seq)
    stats = session.execute(pinned.apply(
        select(func.count(), func.min(AUDIT_TABLE.c.seq), func.max(AUDIT_TABLE.c.seq))
    )).one()
    return ExportPlan(format=fmt, filters=pinned, count=stats[0], first_seq=stats[1], last_seq=stats[2],
                      head_seq=head_seq, head_hash=head_hash)


def start_export(session: Session, *, actor: User, filters: AuditFilter, fmt: ExportFormat) -> ExportPlan:
    """Plan the export and record `audit.exported` (the auditor's own trail) in the caller's session."""
    plan = plan_export(session, actor=actor, filters=filters, fmt=fmt)
    record(session, actor=actor, action=AuditAction.AUDIT_EXPORTED, target_type="audit_export",
           details={"format": fmt, "filters": plan.filters.public(), "count": plan.count,
                    "first_seq": plan.first_seq, "last_seq": plan.last_seq, "file_name": plan.file_name})
    return plan


def _export_columns(dialect: str) -> tuple:
    """COLUMNS with `at` formatted by the database and `details` left as the driver gives it: the per-row
    datetime and JSON processing of the ORM types would cost more than everything else an export does."""
    if dialect == "postgresql":
        at = func.to_char(func.timezone("UTC", AUDIT_TABLE.c.at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    else:  # SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS.ffffff' (always six fractional digits)
        at = func.replace(type_coerce(AUDIT_TABLE.c.at, String), " ", "T").concat("Z")
    details = type_coerce(AUDIT_TABLE.c.details, String)
    return tuple(at if c.name == "at" else details if c.name == "details" else c for c in COLUMNS)


def _batches(filters: AuditFilter, batch: int, session: Session | None) -> Iterator[list[dict[str, Any]]]:
    """Keyset batches of events exactly as hashed; without a session, each read in its own short transaction."""
    after = filters.after_seq or 0
    columns: tuple | None = None
    names = EXPORT_FIELDS
    loads = json.loads
    while True:
        with reading(session) as reader:
            if columns is None:
                columns = _export_columns(reader.get_bind().dialect.name)
            query = replace(filters, after_seq=after).apply(select(*columns)).order_by(AUDIT_TABLE.c.seq).limit(batch)
            rows = reader.execute(query).all()
        if not rows:
            return
        events = []
        for row in rows:
            event = dict(zip(names, row, strict=True))
            if type(event["details"]) is str:  # SQLite hands JSON text, psycopg parsed JSON
                event["details"] = loads(event["details"])
            events.append(event)
        yield events
        if len(rows) < batch:
            return
        after = rows[-1][0]


def _csv_header() -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(EXPORT_FIELDS)
    return out.getvalue().encode("utf-8")


def _csv_rows(events: list[dict[str, Any]]) -> bytes:
    """One CSV row per event: null is an empty cell (record() never stores empty strings, and csv writes
    None as ""), details is its canonical JSON."""
    out = io.StringIO()
    csv.writer(out).writerows(
        [e["seq"], e["at"], e["actor_id"], e["actor_role"], e["operation_id"], e["action"], e["target_type"],
         e["target_id"], canonical(e["details"]).decode(), e["ip"], e["prev_hash"], e["hash"]]
        for e in events
    )
    return out.getvalue().encode("utf-8")


@dataclass
class _Tally:
    """What the manifest needs, gathered while the bytes stream past."""

    digest: Any = field(default_factory=hashlib.sha256)
    ranges: list[list[int]] = field(default_factory=list)  # [[first, last], ...]: flat for contiguous exports
    count: int = 0
    archived: int = 0

    def take(self, chunk: bytes, events: list[dict[str, Any]]) -> bytes:
        self.digest.update(chunk)
        ranges = self.ranges
        for event in events:
            seq = event["seq"]
            if ranges and seq == ranges[-1][1] + 1:
                ranges[-1][1] = seq
            else:
                ranges.append([seq, seq])
            if event["details"] == ARCHIVED_DETAILS:
                self.archived += 1
        self.count += len(events)
        return chunk


def _body(plan: ExportPlan, tally: _Tally, batch: int, session: Session | None = None) -> Iterator[bytes]:
    if plan.format == "csv":
        yield tally.take(_csv_header(), [])
    if not plan.count:
        return
    for events in _batches(plan.filters, batch, session):
        if plan.format == "csv":
            yield tally.take(_csv_rows(events), events)
        else:
            yield tally.take(b"".join(export_line(event) + b"\n" for event in events), events)


def stream(plan: ExportPlan, *, settings: Settings, exporter: User, batch: int = EXPORT_BATCH,
           session: Session | None = None) -> Iterator[bytes]:
    """The export's bytes; JSON Lines ends with its signed manifest line. Without `session` (a download),
    each batch is read in its own short transaction."""
    tally = _Tally()
    yield from _body(plan, tally, batch, session)
    if plan.format == "jsonl":
        yield canonical(_manifest(plan, tally, settings=settings, exporter=exporter, session=session)) + b"\n"


def manifest_for(session: Session | None, plan: ExportPlan, *, settings: Settings, exporter: User,
                 batch: int = EXPORT_BATCH) -> dict:
    """The manifest of the export `plan` describes (re-reads the events to hash exactly those bytes)."""
    tally = _Tally()
    for _chunk in _body(plan, tally, batch, session):
        pass
    return _manifest(plan, tally, settings=settings, exporter=exporter, session=session)


def _prev_hash(first_seq: int | None, session: Session | None) -> str | None:
    if first_seq is None:
        return None
    if first_seq == 1:
        return GENESIS_HASH
    with reading(session) as reader:
        return reader.scalar(select(AUDIT_TABLE.c.hash).where(AUDIT_TABLE.c.seq == first_seq - 1))


def _manifest(plan: ExportPlan, tally: _Tally, *, settings: Settings, exporter: User,
              session: Session | None = None) -> dict:
    complete = plan.filters.is_seq_range_only
    first_seq = tally.ranges[0][0] if tally.ranges else None
    document = {
        "type": "manifest",
        "format": plan.format,
        "filters": plan.filters.public(),
        "exported_at": iso(utcnow()),
        "exported_by": {"id": str(exporter.id), "service_number": exporter.service_number,
                        "display_name": exporter.display_name, "role": exporter.role},
        "count": tally.count,
        "first_seq": first_seq,
        "last_seq": tally.ranges[-1][1] if tally.ranges else None,
        "prev_hash": _prev_hash(first_seq, session) if complete else None,
        "head_seq": plan.head_seq,
        "head_hash": plan.head_hash,
        "sha256": tally.digest.hexdigest(),
        "complete": complete,
        "scope": COMPLETE_SCOPE if complete else FILTERED_SCOPE,
        "seqs": tally.ranges,
        "archived": tally.archived,
        "key_id": signing.current_key_id(settings),
    }
    if plan.exercise:
        document["exercise"] = True
    if plan.format == "csv":
        document["columns"] = list(EXPORT_FIELDS)
    return signing.sign(settings, document)
