"""Live events for the operation stream (Server-Sent Events).

`publish()` queues an event on the session; it is stored and delivered only if that transaction commits:

- just before commit the queued events are inserted into `live_event` (same transaction), which gives
  each its id (the SSE `id:`, replayed after `Last-Event-ID`);
- on PostgreSQL the same transaction runs `pg_notify`, which the server delivers only on commit, to every
  app instance LISTENing (see `app.live.hub`), so several instances share events without a broker;
- on SQLite a commit wakes this process's pollers, which read the new rows (and those other app processes
  on the same file committed) as WAL readers (see `app.live.hub`).
"""

import functools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, insert, text
from sqlmodel import Session

from app.core.types import utcnow

_PENDING = "live_pending"
_COMMITTED = "live_committed"
NOTIFY_CHANNEL = "parley_live"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; bigger events travel by id and are read back.
_NOTIFY_MAX = 7900


@dataclass(frozen=True)
class Audience:
    """Who may receive an event: every member, the command roles (bronze/gold), or named users.
    Command always sees what named users see."""

    kind: str  # "members" | "command" | "users"
    user_ids: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def members(cls) -> "Audience":
        return cls("members")

    @classmethod
    def command(cls) -> "Audience":
        return cls("command")

    @classmethod
    def users(cls, user_ids) -> "Audience":
        return cls("users", frozenset(str(u) for u in user_ids))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "user_ids": sorted(self.user_ids)}


def may_see(audience: dict[str, Any], *, user_id: str, command: bool) -> bool:
    """The one audience rule, used for live delivery and for replay alike."""
    kind = audience.get("kind")
    if kind == "members" or command:
        return True
    return kind == "users" and user_id in audience.get("user_ids", ())


def publish(
    session: Session, *, operation_id: uuid.UUID, type: str, data: dict[str, Any], audience: Audience
) -> None:
    session.info.setdefault(_PENDING, []).append(
        {"operation_id": str(operation_id), "type": type, "data": data, "audience": audience}
    )


_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


@functools.cache
def _inserts(live_event: type) -> tuple[Any, Any]:
    """The event inserts, built once: plain (SQLite: the pollers read the rows after commit) and returning
    the id (PostgreSQL: the NOTIFY carries the whole event, id included)."""
    table = live_event.__table__
    return insert(table), insert(table).returning(table.c.id)


def _store(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    from app.live.models import LiveEvent  # the table lives with the live stream; imported late (cycle)

    connection = session.connection()
    rows = [
        {
            "operation_id": uuid.UUID(item["operation_id"]),
            "type": item["type"],
            "data": item["data"],
            "audience": item["audience"].to_json(),
            "created_at": utcnow(),
        }
        for item in pending
    ]
    plain, returning_id = _inserts(LiveEvent)
    if connection.dialect.name != "postgresql":
        connection.execute(plain, rows)
        session.info[_COMMITTED] = True  # wake the pollers once this commits
        return
    for row in rows:  # one by one: each NOTIFY needs its event's id, and a batch is a handful at most
        event_id = connection.execute(returning_id, row).scalar_one()
        payload = json.dumps({**row, "id": event_id, "operation_id": str(row["operation_id"])},
                             separators=(",", ":"), default=str)
        if len(payload.encode()) > _NOTIFY_MAX:
            payload = json.dumps({"id": event_id})
        connection.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL, "payload": payload})


@event.listens_for(Session, "before_commit")
def _store_before_commit(session: Session) -> None:
    _store(session)


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    if session.info.pop(_COMMITTED, None):
        from app.live.hub import hub

        hub.wake()  # SQLite: the pollers read the stored events (and other processes' events) now


@event.listens_for(Session, "after_rollback")
def _drop_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_COMMITTED, None)
