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

from sqlalchemy import event, insert
from sqlmodel import Session

from app.core.db import send_with_commit
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


# PostgreSQL: the event is stored and announced in one statement. The NOTIFY payload is the event as JSON, its
# id (known only once inserted) appended on the server; too big for NOTIFY, it carries the id alone.
_PG_STORE_AND_NOTIFY = f"""
WITH stored AS (
    INSERT INTO live_event (operation_id, type, data, audience, created_at)
    VALUES (%(operation_id)s, %(type)s, %(data)s::json, %(audience)s::json, %(created_at)s)
    RETURNING id)
SELECT pg_notify('{NOTIFY_CHANNEL}', CASE
    WHEN octet_length(%(head)s) + length(id::text) + 7 > {_NOTIFY_MAX} THEN '{{"id":' || id || '}}'
    ELSE %(head)s || ',"id":' || id || '}}' END)
FROM stored
"""


@functools.cache
def _insert(live_event: type) -> Any:
    """The plain event insert, built once (SQLite: the pollers read the rows after commit)."""
    return insert(live_event.__table__)


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
    if connection.dialect.name != "postgresql":
        connection.execute(_insert(LiveEvent), rows)
        session.info[_COMMITTED] = True  # wake the pollers once this commits
        return
    params = [{**row, "data": json.dumps(row["data"]), "audience": json.dumps(row["audience"]),
               "head": json.dumps({**row, "operation_id": str(row["operation_id"])},
                                  separators=(",", ":"), default=str)[:-1]} for row in rows]
    for param in params:  # with the COMMIT, in its round trip
        send_with_commit(connection, _PG_STORE_AND_NOTIFY, param)


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
