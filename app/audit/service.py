"""Reading and verifying the chain. Writing happens only in `writer.py`."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session

from app.audit.chain import GENESIS_HASH, event_hash
from app.audit.models import AuditEvent
from app.audit.schemas import AuditEventPublic, AuditPage, VerifyOut
from app.auth.models import User
from app.core.errors import Invalid
from app.core.permissions import Permission, ensure
from app.core.types import iso, utcnow

VERIFY_BATCH = 5_000


@dataclass(frozen=True)
class AuditFilter:
    operation_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int | None = None

    def __post_init__(self):
        for name in ("since", "until"):  # a time without a zone is taken as UTC
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))
        if self.since and self.until and self.until < self.since:
            raise Invalid("until must not be before since.")

    def apply(self, query):
        if self.operation_id:
            query = query.where(AuditEvent.operation_id == str(self.operation_id))
        if self.actor_id:
            query = query.where(AuditEvent.actor_id == str(self.actor_id))
        if self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.since:
            query = query.where(AuditEvent.at >= self.since)
        if self.until:
            query = query.where(AuditEvent.at < self.until)
        if self.after_seq is not None:
            query = query.where(AuditEvent.seq > self.after_seq)
        return query


def as_dict(event: AuditEvent) -> dict:
    """The event exactly as hashed (plus its hash)."""
    return {
        "seq": event.seq, "at": iso(event.at), "actor_id": event.actor_id, "actor_role": event.actor_role,
        "operation_id": event.operation_id, "action": event.action, "target_type": event.target_type,
        "target_id": event.target_id, "details": event.details, "ip": event.ip,
        "prev_hash": event.prev_hash, "hash": event.hash,
    }


def list_events(*, session: Session, actor: User, filters: AuditFilter, limit: int) -> AuditPage:
    ensure(actor.role, Permission.AUDIT_READ)
    query = filters.apply(select(AuditEvent)).order_by(AuditEvent.seq).limit(limit + 1)
    events = list(session.scalars(query))
    more = len(events) > limit
    events = events[:limit]
    return AuditPage(
        events=[AuditEventPublic(**as_dict(e)) for e in events],
        next_after_seq=events[-1].seq if more else None,
    )


def iter_chain(session: Session, *, after_seq: int = 0, batch: int = VERIFY_BATCH) -> Iterator[dict]:
    while True:
        rows = list(session.scalars(
            select(AuditEvent).where(AuditEvent.seq > after_seq).order_by(AuditEvent.seq).limit(batch)
        ))
        if not rows:
            return
        for row in rows:
            yield as_dict(row)
        after_seq = rows[-1].seq
        session.expunge_all()


def verify_chain(session: Session) -> VerifyOut:
    """Recompute every hash and link from seq 1; report the first seq that does not fit."""
    checked, head_seq, head_hash = 0, 0, GENESIS_HASH
    for event in iter_chain(session):
        expected = head_seq + 1
        if event["seq"] != expected:  # a deleted row leaves a gap
            return _verdict(checked, head_seq, head_hash, bad=expected)
        if event["prev_hash"] != head_hash or event_hash(event) != event["hash"]:
            return _verdict(checked, head_seq, head_hash, bad=event["seq"])
        checked, head_seq, head_hash = checked + 1, event["seq"], event["hash"]
    return _verdict(checked, head_seq, head_hash, bad=None)


def _verdict(checked: int, head_seq: int, head_hash: str, *, bad: int | None) -> VerifyOut:
    return VerifyOut(ok=bad is None, events_checked=checked, head_seq=head_seq, head_hash=head_hash,
                     first_bad_seq=bad, checked_at=utcnow())


def verify(*, session: Session, actor: User) -> VerifyOut:
    ensure(actor.role, Permission.AUDIT_VERIFY)
    return verify_chain(session)
