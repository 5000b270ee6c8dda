"""GET /operations/{op}/stream: the operation's live events as Server-Sent Events.

The caller's session is checked once, at connect, in its own short transaction (a request session held
open for the life of a stream would pin a database connection, and on SQLite the write lock). The PWA
reads the stream with fetch() and a Bearer header; `Last-Event-ID` replays what a reconnecting client
missed. Keep-alive comments come from FastAPI's SSE support every 15 seconds.
"""

import asyncio
from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.core.config import get_settings
from app.core.routing import TransactionRoute
from app.live import service
from app.live.hub import CLOSE, hub

router = APIRouter(tags=["live"], route_class=TransactionRoute)
RETRY_MS = 3000


@router.get(
    "/operations/{operation_id}/stream",
    response_class=EventSourceResponse,
    summary="Live events of the operation (Server-Sent Events)",
    responses={
        200: {
            "description": "`escalation.created`, `escalation.updated`, `notification.created`, "
            "`notification.receipt`, `template.approved`: what the caller may see. "
            "`reset` means too much was missed: reload the views."
        }
    },
)
async def stream(
    grant: Annotated[service.StreamGrant, Depends(service.stream_grant)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    replay_only: Annotated[
        bool,
        Query(
            description="Send the events missed since Last-Event-ID, then end the stream (a catch-up "
            "for clients that cannot hold a connection open)"
        ),
    ] = False,
) -> AsyncIterable[ServerSentEvent]:
    subscriber = hub.subscribe(
        operation_id=grant.operation_id,
        user_id=grant.user_id,
        session_id=grant.session_id,
        command=grant.command,
    )
    try:
        settings = get_settings()
        if settings.is_sqlite:
            await hub.ensure_poller()
        else:
            await hub.ensure_listener(settings.effective_database_url)
        yield ServerSentEvent(comment="connected", retry=RETRY_MS)
        replayed: set[int] = set()
        after = service.parse_last_event_id(last_event_id)
        if after is not None:
            missed = await asyncio.to_thread(service.missed_events, grant=grant, after_id=after)
            if missed is None:
                yield ServerSentEvent(event="reset", data={"reason": "too many missed events"})
            else:
                for item in missed:
                    replayed.add(item["id"])
                    yield service.to_sse(item)
        if replay_only:
            return
        while True:  # ends when the client goes (the task is cancelled) or the hub closes it
            item = await subscriber.queue.get()
            if item is CLOSE:
                return
            if item["id"] not in replayed:
                yield service.to_sse(item)
    finally:
        hub.unsubscribe(subscriber)
