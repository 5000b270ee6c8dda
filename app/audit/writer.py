"""The only code that inserts audit rows.

`record()` queues an event on the session; just before that session commits, the queued events are
appended to the chain under a lock (PostgreSQL advisory lock; SQLite transactions are already
serialised by BEGIN IMMEDIATE), so the lock is held only for the append itself and the chain never
forks. A rolled-back transaction appends nothing: no audit record for a change that did not happen.
"""

import json
import uuid
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from sqlalchemy import event, select
from sqlmodel import Session

from app.audit.chain import GENESIS_HASH, canonical_parts, event_hash
from app.audit.models import AuditEvent
from app.core.db import HotInsert, HotQuery, send_with_commit
from app.core.types import iso, parse_iso, utcnow

CHAIN_LOCK_KEY = 7_261_001
_AUDIT_TABLE = AuditEvent.__table__
client_ip: ContextVar[str | None] = ContextVar("client_ip", default=None)
_PENDING = "audit_pending"


class AuditAction(StrEnum):
    AUTH_LOGIN = "auth.login"
    AUTH_LOGIN_FAILED = "auth.login_failed"
    AUTH_LOGIN_THROTTLED = "auth.login_throttled"
    AUTH_REFRESH = "auth.refresh"
    AUTH_REFRESH_REUSED = "auth.refresh_reused"
    AUTH_LOGOUT = "auth.logout"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_SESSIONS_REVOKED = "user.sessions_revoked"
    OPERATION_CREATED = "operation.created"
    OPERATION_UPDATED = "operation.updated"
    OPERATION_STATUS_CHANGED = "operation.status_changed"
    STRATEGY_PUBLISHED = "operation.strategy_published"
    BRIEFING_PUBLISHED = "operation.briefing_published"
    MEMBER_SET = "operation.member_set"
    MEMBER_REMOVED = "operation.member_removed"
    BRIEFING_ACKNOWLEDGED = "operation.briefing_acknowledged"
    DECISION_RECORDED = "decision.recorded"
    TEMPLATE_CREATED = "template.created"
    TEMPLATE_VERSION_CREATED = "template.version_created"
    TEMPLATE_SUBMITTED = "template.submitted"
    TEMPLATE_APPROVED = "template.approved"
    TEMPLATE_REJECTED = "template.rejected"
    TEMPLATE_RETIRED = "template.retired"
    TEMPLATE_USED = "template.used"
    TEMPLATE_IMPORTED = "template.imported"
    TEMPLATE_EXPORTED = "template.exported"
    ESCALATION_CREATED = "escalation.created"
    ESCALATION_ATTACHMENT_ADDED = "escalation.attachment_added"
    ESCALATION_TRANSITIONED = "escalation.transitioned"
    ESCALATION_GROUPED = "escalation.grouped"
    ESCALATION_MERGED = "escalation.merged"
    ESCALATION_SPLIT = "escalation.split"
    ESCALATION_ATTACHMENT_VIEWED = "escalation.attachment_viewed"
    ESCALATION_ASSIGNED = "escalation.assigned"
    ESCALATION_NOTE_ADDED = "escalation.note_added"
    PUSH_SUBSCRIBED = "push.subscribed"
    PUSH_UNSUBSCRIBED = "push.unsubscribed"
    PUSH_SUBSCRIPTION_EXPIRED = "push.subscription_expired"
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_RECEIPT = "notification.receipt"
    NOTIFICATION_RESENT = "notification.resent"
    AUDIT_EXPORTED = "audit.exported"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    AUDIT_ARCHIVED = "audit.archived"
    AUDIT_RETENTION_SET = "audit.retention_set"
    COMMENDATION_RECORDED = "debrief.commendation"
    APPRAISAL_RECORDED = "debrief.appraisal"
    DEBRIEF_EXPORTED = "debrief.exported"


def _text(value: Any) -> str | None:
    """Empty text is stored as null, so a CSV export's empty cell means exactly one thing."""
    if value is None:
        return None
    return str(value) or None


def record(
    session: Session,
    *,
    actor: Any | None,
    action: AuditAction,
    target_type: str | None = None,
    target_id: Any = None,
    operation_id: uuid.UUID | str | None = None,
    details: dict[str, Any] | None = None,
    actor_role: str | None = None,
) -> None:
    """Queue one audit event; it is chained and written when `session` commits."""
    session.info.setdefault(_PENDING, []).append(
        {
            "at": iso(utcnow()),
            "actor_id": _text(getattr(actor, "id", None)),
            "actor_role": _text(actor_role) or _text(getattr(actor, "role", None)),
            "operation_id": _text(operation_id),
            "action": AuditAction(action).value,
            "target_type": _text(target_type),
            "target_id": _text(target_id),
            "details": details or {},
            "ip": _text(client_ip.get()),
        }
    )


def pending_count(session: Session) -> int:
    return len(session.info.get(_PENDING, ()))


# SQLite: the head and the insert, compiled once and run on the driver's cursor (see HotQuery).
_HEAD = HotQuery(select(_AUDIT_TABLE.c.seq, _AUDIT_TABLE.c.hash).order_by(_AUDIT_TABLE.c.seq.desc()).limit(1))
_INSERT = HotInsert(_AUDIT_TABLE)
_LOCK_SQL = f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})"
# PostgreSQL: the head is read, the event chained and hashed, all in one statement on the server; the
# hashed bytes are exactly canonical(event): prefix + "prev_hash" and "seq" members + suffix (see
# `chain.canonical_parts`). Each statement sees the rows the earlier ones of its transaction inserted.
_PG_INSERT_SQL = f"""
INSERT INTO audit_event (seq, at, actor_id, actor_role, operation_id, action, target_type, target_id,
                         details, ip, prev_hash, hash)
SELECT head.seq + 1, %(at)s, %(actor_id)s, %(actor_role)s, %(operation_id)s, %(action)s, %(target_type)s,
       %(target_id)s, %(details)s::json, %(ip)s, head.hash,
       encode(sha256(convert_to(%(prefix)s || '"prev_hash":"' || head.hash || '","seq":' || (head.seq + 1)::text
                                || ',' || %(suffix)s, 'UTF8')), 'hex')
FROM ((SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1)
      UNION ALL (SELECT 0, '{GENESIS_HASH}') ORDER BY seq DESC LIMIT 1) AS head
"""


def _append(session: Session) -> None:
    """Chain and insert the session's queued events, under the chain lock, which is held until commit
    so the next writer reads a committed head. Everything that can be done before taking the lock is:
    the change's own flush and, on PostgreSQL, the canonical bytes of each event (all but seq and
    prev_hash). There the lock, the head read, the hashing and the insert go to the server with the COMMIT
    in a single round trip (`send_with_commit`), so the lock is held only while the server runs them,
    however busy this process is."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _append_postgres(connection, pending)
        return
    head = _HEAD.first(connection, {})
    seq, prev_hash = (head[0], head[1]) if head else (0, GENESIS_HASH)
    for item in pending:
        seq += 1
        item["seq"], item["prev_hash"] = seq, prev_hash
        prev_hash = event_hash(item)
        _INSERT(connection, {**item, "at": parse_iso(item["at"]), "hash": prev_hash})


def _append_postgres(connection, pending: list[dict[str, Any]]) -> None:
    send_with_commit(connection, _LOCK_SQL)
    for item in pending:
        prefix, suffix = canonical_parts(item)
        send_with_commit(connection, _PG_INSERT_SQL, {
            **item, "at": parse_iso(item["at"]), "details": json.dumps(item["details"]),
            "prefix": prefix, "suffix": suffix})


@event.listens_for(Session, "before_commit")
def _append_before_commit(session: Session) -> None:
    _append(session)


@event.listens_for(Session, "after_rollback")
def _drop_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
