"""Who may open an operation's stream, and the replay of missed events."""

import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.sse import ServerSentEvent
from sqlalchemy import select

from app.core.db import session_scope
from app.core.deps import SettingsDep, _bearer, check_principal
from app.core.events import may_see
from app.core.permissions import COMMAND, Permission
from app.live.hub import event_dict
from app.live.models import LiveEvent
from app.operations.access import operation_access

REPLAY_LIMIT = 1000


@dataclass(frozen=True)
class StreamGrant:
    operation_id: str
    user_id: str
    session_id: str
    command: bool  # bronze or gold of the operation: sees every event of it


def stream_grant(
    operation_id: uuid.UUID,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StreamGrant:
    """The session check at connect: the same rules as every request (revoked, disabled, idle), then
    404 for an operation the caller may not know, 403 without the stream permission."""
    with session_scope() as session:
        principal = check_principal(session, settings, credentials)
        access = operation_access(
            session, actor=principal.user, operation_id=operation_id, permission=Permission.STREAM_VIEW
        )
        return StreamGrant(
            operation_id=str(operation_id),
            user_id=str(principal.user.id),
            session_id=str(principal.auth_session.id),
            command=access.op_role in COMMAND,
        )


def parse_last_event_id(value: str | None) -> int | None:
    """Ids are positive integers; anything else (a stale or garbled header) means "no replay"."""
    if value is None or not value.strip().isdigit() or len(value.strip()) > 18:
        return None
    return int(value.strip())


def missed_events(*, grant: StreamGrant, after_id: int) -> list[dict[str, Any]] | None:
    """The events after `after_id` this subscriber may see, oldest first; None when there are more
    than REPLAY_LIMIT in the operation (the client should reload rather than replay)."""
    with session_scope() as session:
        rows = session.scalars(
            select(LiveEvent)
            .where(LiveEvent.operation_id == uuid.UUID(grant.operation_id), LiveEvent.id > after_id)
            .order_by(LiveEvent.id)
            .limit(REPLAY_LIMIT + 1)
        ).all()
    if len(rows) > REPLAY_LIMIT:
        return None
    return [
        event_dict(row) for row in rows if may_see(row.audience, user_id=grant.user_id, command=grant.command)
    ]


def to_sse(item: dict[str, Any]) -> ServerSentEvent:
    """The event's data is plain JSON already (read from NOTIFY or the table): encoded here once, as FastAPI
    would encode it, without its walk through `jsonable_encoder` (a few % of a report's CPU with one listener)."""
    try:
        raw = json.dumps(item["data"], allow_nan=False)
    except (TypeError, ValueError):  # not plain JSON after all: FastAPI's own encoding
        return ServerSentEvent(id=str(item["id"]), event=item["type"], data=item["data"])
    return ServerSentEvent(id=str(item["id"]), event=item["type"], raw_data=raw)


def _end_streams(_session, auth_session) -> None:
    from app.live.hub import hub

    hub.close_session(str(auth_session.id))


def register_hooks() -> None:
    from app.auth import service as auth_service

    if _end_streams not in auth_service.SESSION_END_HOOKS:
        auth_service.SESSION_END_HOOKS.append(_end_streams)


register_hooks()
