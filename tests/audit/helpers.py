"""Shared by the audit tests: filling the chain through the real writer, and tampering as an attacker
with database access would (dropping the append-only triggers first)."""

import contextlib

from sqlalchemy import text

from app.audit.writer import AuditAction, record
from app.core.db import get_engine, session_scope

PG_RESTORE = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_guard_update()",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
]


def add_events(count: int, *, actor=None, operation_id=None, action=AuditAction.DECISION_RECORDED,
               details=None, per_transaction: int = 1) -> None:
    """`count` events through `record()`, committed in transactions of `per_transaction`."""
    made = 0
    while made < count:
        with session_scope() as session:
            for _ in range(min(per_transaction, count - made)):
                made += 1
                record(session, actor=actor, action=action, operation_id=operation_id, target_type="decision",
                       target_id=f"d-{made}", details=details if details is not None else {"n": made, "text": "ok"})


def is_postgres() -> bool:
    return get_engine().dialect.name == "postgresql"


@contextlib.contextmanager
def triggers_dropped():
    """The attacker's first step. PostgreSQL tests share one database, so the triggers come back after."""
    postgres = is_postgres()
    with get_engine().begin() as connection:
        for name in ("audit_event_no_update", "audit_event_no_delete"):
            connection.execute(text(f"DROP TRIGGER {name}" + (" ON audit_event" if postgres else "")))
    try:
        yield
    finally:
        if postgres:
            with get_engine().begin() as connection:
                for statement in PG_RESTORE:
                    connection.execute(text(statement))


def tamper(statement: str, **params) -> None:
    with triggers_dropped(), get_engine().begin() as connection:
        connection.execute(text(statement), params)
