"""Live events for the operation stream (Server-Sent Events).

`publish()` queues an event on the session; it is stored and delivered only if that transaction commits.
The escalations work implements storage (for Last-Event-ID replay), the in-process hub (SQLite) and
PostgreSQL LISTEN/NOTIFY fan-out between app instances.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

_PENDING = "live_pending"


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


def publish(session: Session, *, operation_id: uuid.UUID, type: str, data: dict[str, Any], audience: Audience) -> None:
    session.info.setdefault(_PENDING, []).append(
        {"operation_id": str(operation_id), "type": type, "data": data, "audience": audience}
    )
