"""Reading, searching and verifying the chain. Writing happens only in `writer.py`."""

import bisect
import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from app.audit.chain import GENESIS_HASH, canonical, event_hash, is_archived
from app.audit.models import AuditEvent
from app.audit.schemas import ActionTotal, AuditEventPublic, AuditPage, AuditTotals, VerifyOut
from app.audit.writer import AuditAction
from app.auth.models import User
from app.core.config import Settings
from app.core.db import new_session
from app.core.errors import Invalid
from app.core.permissions import Permission, ensure
from app.core.types import iso, utcnow
from app.operations.access import operation_access
from app.operations.models import Operation

VERIFY_BATCH = 10_000
AUDIT_TABLE = AuditEvent.__table__
COLUMNS = tuple(AUDIT_TABLE.c[name] for name in (
    "seq", "at", "actor_id", "actor_role", "operation_id", "action",
    "target_type", "target_id", "details", "ip", "prev_hash", "hash",
))  # fmt: skip
SEQ_FILTERS = frozenset({"after_seq", "from_seq", "to_seq"})


@dataclass(frozen=True)
class AuditFilter:
    """The filters of /audit/events and /audit/export. Seq bounds: `after_seq` exclusive (paging),
    `from_seq` and `to_seq` inclusive (a range an auditor names)."""

    operation_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int | None = None
    from_seq: int | None = None
    to_seq: int | None = None
    q: str | None = None

    def __post_init__(self):
        for name in ("since", "until"):  # a time without a zone is taken as UTC
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        if self.since and self.until and self.until < self.since:
            raise Invalid("until must not be before since.")
        if self.from_seq is not None and self.to_seq is not None and self.to_seq < self.from_seq:
            raise Invalid("to_seq must not be below from_seq: the seq range is reversed.")
        if self.action is not None and self.action not in AuditAction._value2member_map_:
            raise Invalid(f"Unknown audit action {self.action!r}.")
        if self.q is not None:
            object.__setattr__(self, "q", self.q.strip() or None)

    @property
    def is_seq_range_only(self) -> bool:
        """No filter but seq bounds: the events are a contiguous stretch of the chain."""
        return all(getattr(self, f.name) is None for f in fields(self) if f.name not in SEQ_FILTERS)

    def public(self) -> dict[str, Any]:
        """The filters as they appear in manifests and audit details (JSON values only)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = iso(value)
            elif isinstance(value, uuid.UUID):
                value = str(value)
            out[f.name] = value
        return out

    def apply(self, query):
        if self.operation_id:
            query = query.where(AUDIT_TABLE.c.operation_id == str(self.operation_id))
        if self.actor_id:
            query = query.where(AUDIT_TABLE.c.actor_id == str(self.actor_id))
        if self.action:
            query = query.where(AUDIT_TABLE.c.action == self.action)
        if self.since:
            query = query.where(AUDIT_TABLE.c.at >= self.since)
        if self.until:
            query = query.where(AUDIT_TABLE.c.at < self.until)
        if self.after_seq is not None:
            query = query.where(AUDIT_TABLE.c.seq > self.after_seq)
        if self.from_seq is not None:
            query = query.where(AUDIT_TABLE.c.seq >= self.from_seq)
        if self.to_seq is not None:
            query = query.where(AUDIT_TABLE.c.seq <= self.to_seq)
        if self.q:
            query = query.where(_text_search(self.q))
        return query


def _text_search(term: str):
    """Case-insensitive substring over action, target and details. `details` is stored as JSON text,
    where non-ASCII is escaped (\\u00eb), so the escaped spelling of the term is searched too."""
    patterns = {_like(term), _like(canonical(term).decode()[1:-1]), _like(_ascii_json(term))}
    columns = (AUDIT_TABLE.c.action, AUDIT_TABLE.c.target_type, AUDIT_TABLE.c.target_id,
               cast(AUDIT_TABLE.c.details, String))
    return or_(*(func.lower(column).like(pattern, escape="\\") for column in columns for pattern in patterns))


def _ascii_json(term: str) -> str:
    return json.dumps(term)[1:-1]


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def ensure_filter_visible(session: Session, *, actor: User, filters: AuditFilter) -> Operation | None:
    """A filter naming an operation the caller may not know exists answers 404, like the operation would."""
    if filters.operation_id is None:
        return None
    return operation_access(session, actor=actor, operation_id=filters.operation_id).operation


def _iso_utc(at: datetime) -> str:
    """`iso()` for the UTC datetimes UTCDateTime returns, without strftime (this runs per exported event)."""
    text = at.isoformat(timespec="microseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else iso(at)


def row_dict(row) -> dict[str, Any]:
    """A result row (COLUMNS, in order) as the event exactly as hashed, plus its hash."""
    seq, at, actor_id, actor_role, operation_id, action, target_type, target_id, details, ip, prev, digest = row
    return {
        "seq": seq, "at": _iso_utc(at), "actor_id": actor_id, "actor_role": actor_role, "operation_id": operation_id,
        "action": action, "target_type": target_type, "target_id": target_id, "details": details, "ip": ip,
        "prev_hash": prev, "hash": digest,
    }


def as_dict(event: AuditEvent) -> dict:
    """The event exactly as hashed (plus its hash)."""
    return row_dict(tuple(getattr(event, column.name) for column in COLUMNS))


def list_events(*, session: Session, actor: User, filters: AuditFilter, limit: int) -> AuditPage:
    ensure(actor.role, Permission.AUDIT_READ)
    ensure_filter_visible(session, actor=actor, filters=filters)
    query = filters.apply(select(*COLUMNS)).order_by(AUDIT_TABLE.c.seq).limit(limit + 1)
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        events=[AuditEventPublic(**row_dict(row)) for row in rows],
        next_after_seq=rows[-1].seq if more else None,
    )


def totals(*, session: Session, actor: User, filters: AuditFilter) -> AuditTotals:
    """How many events of each action match the filter (an auditor's first look at a complaint)."""
    ensure(actor.role, Permission.AUDIT_READ)
    ensure_filter_visible(session, actor=actor, filters=filters)
    count = func.count().label("count")
    query = filters.apply(select(AUDIT_TABLE.c.action, count)).group_by(AUDIT_TABLE.c.action)
    rows = session.execute(query.order_by(count.desc(), AUDIT_TABLE.c.action)).all()
    return AuditTotals(filters=filters.public(), total=sum(row.count for row in rows),
                       by_action=[ActionTotal(action=row.action, count=row.count) for row in rows])


def head(connection: Connection | Session) -> tuple[int, str]:
    """(seq, hash) of the newest event; (0, 64 zeros) for an empty chain."""
    row = connection.execute(
        select(AUDIT_TABLE.c.seq, AUDIT_TABLE.c.hash).order_by(AUDIT_TABLE.c.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)


@contextmanager
def reading(session: Session | None) -> Iterator[Session]:
    """The caller's session, or a short one of our own. Long reads (export, verify) pass None and read
    batch by batch, each in its own transaction: on SQLite every transaction holds the writers' lock."""
    if session is not None:
        yield session
        return
    own = new_session()
    try:
        yield own
    finally:
        own.close()


def iter_rows(session: Session | None, *, filters: AuditFilter | None = None,
              batch: int = VERIFY_BATCH) -> Iterator[dict]:
    """Every matching event in seq order, read in keyset batches so memory stays flat."""
    after = 0
    base = (filters or AuditFilter()).apply(select(*COLUMNS))
    while True:
        with reading(session) as reader:
            query = base.where(AUDIT_TABLE.c.seq > after).order_by(AUDIT_TABLE.c.seq).limit(batch)
            rows = reader.execute(query).all()
        if not rows:
            return
        for row in rows:
            yield row_dict(row)
        after = rows[-1][0]


def iter_chain(session: Session | None, *, after_seq: int = 0, batch: int = VERIFY_BATCH) -> Iterator[dict]:
    return iter_rows(session, filters=AuditFilter(after_seq=after_seq), batch=batch)


@dataclass
class _ArchiveRanges:
    """The seqs each `audit.archived` event in the chain says it archived, and the digest it recorded
    of the redacted rows: an archived row can be checked only against these."""

    starts: list[int]
    spans: list[tuple[int, int, str]]
    digests: dict[str, Any]
    expected: dict[str, str]

    @classmethod
    def load(cls, session: Session) -> "_ArchiveRanges":
        spans: list[tuple[int, int, str]] = []
        expected: dict[str, str] = {}
        query = select(AUDIT_TABLE.c.details).where(AUDIT_TABLE.c.action == AuditAction.AUDIT_ARCHIVED.value)
        for (details,) in session.execute(query):
            archive_id = str(details.get("archive_id"))
            expected[archive_id] = str(details.get("redacted_sha256"))
            spans.extend((first, last, archive_id) for first, last in details.get("seqs", []))
        spans.sort()
        return cls(starts=[span[0] for span in spans], spans=spans, digests={}, expected=expected)

    def archive_of(self, seq: int) -> str | None:
        at = bisect.bisect_right(self.starts, seq) - 1
        if at >= 0 and self.spans[at][0] <= seq <= self.spans[at][1]:
            return self.spans[at][2]
        return None

    def feed(self, archive_id: str, event: dict) -> None:
        self.digests.setdefault(archive_id, hashlib.sha256()).update(canonical(event) + b"\n")

    def first_mismatch(self) -> str | None:
        for archive_id, digest in self.digests.items():
            if digest.hexdigest() != self.expected.get(archive_id):
                return archive_id
        return None


def verify_chain(session: Session | None, settings: Settings | None = None) -> VerifyOut:
    """Recompute every hash and link from seq 1, then hold the chain against the signed checkpoints.

    Reports the first seq that does not fit: an edited row (its hash), a deleted row (the gap), a cut
    tail (a checkpoint beyond the head) or a chain rewritten after a checkpoint (the checkpoint's hash
    no longer matches: the first seq after the last checkpoint that still matches is reported)."""
    from app.audit import checkpoints  # checkpoints imports this module

    with reading(session) as reader:
        marks = checkpoints.load(reader, settings) if settings else checkpoints.Loaded()
        archives = _ArchiveRanges.load(reader)
    checked, archived, head_seq, head_hash = 0, 0, 0, GENESIS_HASH
    last_good_mark = 0

    def verdict(bad: int | None, problem: str | None = None) -> VerifyOut:
        return VerifyOut(ok=bad is None and problem is None and not marks.problems, events_checked=checked,
                         head_seq=head_seq, head_hash=head_hash, first_bad_seq=bad, checked_at=utcnow(),
                         checkpoints_checked=marks.checked_upto(head_seq), archived_events=archived,
                         problem=problem or (marks.problems[0] if marks.problems else None))

    for event in iter_chain(session):
        seq = event["seq"]
        if seq != head_seq + 1:
            return verdict(head_seq + 1, f"seq {head_seq + 1} is missing (deleted row)")
        if event["prev_hash"] != head_hash:
            return verdict(seq, f"seq {seq} does not link to the hash of seq {head_seq}")
        if is_archived(event):
            archive_id = archives.archive_of(seq)
            if archive_id is None:
                return verdict(seq, f"seq {seq} lost its detail without an audit.archived event naming it")
            archives.feed(archive_id, event)
            archived += 1
        elif event_hash(event) != event["hash"]:
            return verdict(seq, f"seq {seq} does not match its hash (edited row)")
        checked, head_seq, head_hash = checked + 1, seq, event["hash"]
        expected_hash = marks.hash_at(seq)
        if expected_hash is not None:
            if expected_hash != head_hash:
                return verdict(last_good_mark + 1, f"the chain differs from the checkpoint signed at seq {seq}: "
                                                   f"rewritten after seq {last_good_mark}")
            last_good_mark = seq
    if marks.max_seq > head_seq:
        return verdict(head_seq + 1, f"a checkpoint was signed at seq {marks.max_seq} but the chain ends at "
                                     f"seq {head_seq}: the tail was cut")
    mismatch = archives.first_mismatch()
    if mismatch is not None:
        return verdict(None, f"archived events of archive {mismatch} were changed after archiving")
    return verdict(None)


def verify(*, actor: User, settings: Settings) -> VerifyOut:
    """Reads the chain in short transactions of its own (the caller's transaction should be closed)."""
    ensure(actor.role, Permission.AUDIT_VERIFY)
    return verify_chain(None, settings)
