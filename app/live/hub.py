"""The in-process fan-out of live events to SSE subscribers, and what feeds it from the database.

PostgreSQL: every app instance runs one LISTEN connection per event loop; each NOTIFY (sent by the
committing transaction, delivered only on commit) is dispatched to that loop's subscribers, so an event
committed by any instance reaches the subscribers of all of them.

SQLite: every event loop with subscribers runs a poller that reads the `live_event` rows after the last one
it saw, as a WAL reader (it neither waits for writers nor holds them up). A commit in this process wakes it
at once; events committed by other app processes on the same file arrive within `POLL_SECONDS`. Writers
take turns on SQLite, so ids are committed in order and reading `id > last` misses none.

A subscriber that cannot keep up (its queue is full) is dropped rather than slowing everyone: its
stream ends and the client reconnects with `Last-Event-ID`, which replays what it missed.
"""

import asyncio
import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.core.events import NOTIFY_CHANNEL, may_see

log = logging.getLogger("parley.live")
QUEUE_SIZE = 1000
POLL_SECONDS = 0.1
COALESCE_SECONDS = 0.005
POLL_BATCH = 1000
_CLOSE = object()  # queued to end a subscriber's stream


@dataclass(eq=False)
class Subscriber:
    operation_id: str
    user_id: str
    session_id: str
    command: bool
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    closed: bool = False

    def wants(self, item: dict[str, Any]) -> bool:
        return item["operation_id"] == self.operation_id and may_see(
            item["audience"], user_id=self.user_id, command=self.command
        )

    def _offer(self, item: Any) -> None:
        """Runs on the subscriber's own loop."""
        if self.closed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.closed = True
            self.queue.get_nowait()  # make room for the close marker
            self.queue.put_nowait(_CLOSE)
        if item is _CLOSE:
            self.closed = True


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscriber] = set()
        self._listeners: dict[asyncio.AbstractEventLoop, tuple[asyncio.Task, asyncio.Event]] = {}
        self._pollers: dict[asyncio.AbstractEventLoop, tuple[asyncio.Task, asyncio.Event, asyncio.Event]] = {}

    def subscribe(self, *, operation_id: str, user_id: str, session_id: str, command: bool) -> Subscriber:
        subscriber = Subscriber(
            operation_id=operation_id,
            user_id=user_id,
            session_id=session_id,
            command=command,
            loop=asyncio.get_running_loop(),
        )
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def dispatch(self, items: list[dict[str, Any]], *, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Thread-safe: hand each event to every subscriber (of `loop`, if given) allowed to see it."""
        with self._lock:
            subscribers = [s for s in self._subscribers if loop is None or s.loop is loop]
        for item in items:
            for subscriber in subscribers:
                if subscriber.wants(item):
                    self._send(subscriber, item)

    def close_session(self, session_id: str) -> None:
        """End the streams of a signed-out or revoked session (in this process)."""
        with self._lock:
            subscribers = [s for s in self._subscribers if s.session_id == session_id]
        for subscriber in subscribers:
            self._send(subscriber, _CLOSE)

    @staticmethod
    def _send(subscriber: Subscriber, item: Any) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # called from a thread
            running = None
        if running is subscriber.loop:  # the listener or poller, on the subscriber's own loop: no wake-up needed
            subscriber._offer(item)
            return
        with contextlib.suppress(RuntimeError):  # that loop has closed: the subscriber is gone
            subscriber.loop.call_soon_threadsafe(subscriber._offer, item)

    async def ensure_poller(self) -> None:
        """On SQLite, make sure this event loop polls for events, and wait until the poller knows where
        the table ends (so a subscriber that then reads the replay misses nothing in between)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._pollers.get(loop)
            if entry is None or entry[0].done():
                ready, wake = asyncio.Event(), asyncio.Event()
                task = loop.create_task(self._poll(ready, wake, loop), name="parley-live-poller")
                entry = self._pollers[loop] = (task, ready, wake)
        await asyncio.wait_for(entry[1].wait(), timeout=10)

    def wake(self) -> None:
        """Thread-safe: this process committed events; the pollers read them now rather than at their tick."""
        with self._lock:
            entries = list(self._pollers.items())
        for loop, (_task, _ready, wake) in entries:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(wake.set)

    async def _poll(self, ready: asyncio.Event, wake: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        last: int | None = None
        while True:
            try:
                if last is None:
                    last = await asyncio.to_thread(latest_event_id)
                    ready.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), POLL_SECONDS)
                    await asyncio.sleep(COALESCE_SECONDS)  # a burst of commits: one read for all of them
                wake.clear()
                with self._lock:
                    if not any(s.loop is loop for s in self._subscribers):
                        self._pollers.pop(loop, None)  # nobody listens here any more; the next one restarts it
                        return
                items = await asyncio.to_thread(events_after, last, POLL_BATCH)
                if items:
                    last = items[-1]["id"]
                    self.dispatch(items, loop=loop)
                    if len(items) == POLL_BATCH:
                        wake.set()  # more are waiting
            except asyncio.CancelledError:
                raise
            except Exception:  # the database was busy or went away for a moment: keep the streams, go on
                log.warning("live poller could not read events; retrying", exc_info=True)
                await asyncio.sleep(1)

    async def ensure_listener(self, database_url: str) -> None:
        """On PostgreSQL, make sure this event loop has a LISTEN connection, and wait until it listens
        (so a subscriber that then reads the replay misses nothing in between)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._listeners.get(loop)
            if entry is None or entry[0].done():
                ready = asyncio.Event()
                task = loop.create_task(self._listen(database_url, ready, loop), name="parley-live-listener")
                entry = self._listeners[loop] = (task, ready)
        await asyncio.wait_for(entry[1].wait(), timeout=10)

    async def _listen(self, database_url: str, ready: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        import psycopg

        conninfo = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    ready.set()
                    async for notice in connection.notifies():
                        item = json.loads(notice.payload)
                        if "audience" not in item:  # too big for NOTIFY: read it back
                            item = await asyncio.to_thread(read_event, item["id"])
                        if item is not None:
                            self.dispatch([item], loop=loop)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: keep the streams, reconnect
                log.warning("live listener lost its connection; reconnecting", exc_info=True)
                ready.clear()
                await asyncio.sleep(1)


def latest_event_id() -> int:
    from app.core.db import begin_reading, new_session
    from app.live.models import LiveEvent

    with new_session() as session:
        begin_reading(session)
        return session.scalar(select(func.max(LiveEvent.id))) or 0


def events_after(last: int, limit: int) -> list[dict[str, Any]]:
    from app.core.db import begin_reading, new_session
    from app.live.models import LiveEvent

    with new_session() as session:
        begin_reading(session)
        table = LiveEvent.__table__
        rows = session.execute(select(table).where(table.c.id > last).order_by(table.c.id).limit(limit))
        return [event_dict(row) for row in rows]


def read_event(event_id: int) -> dict[str, Any] | None:
    from app.core.db import new_session
    from app.live.models import LiveEvent

    with new_session() as session:
        row = session.scalar(select(LiveEvent).where(LiveEvent.id == event_id))
        return None if row is None else event_dict(row)


def event_dict(row) -> dict[str, Any]:
    return {
        "id": row.id,
        "operation_id": str(row.operation_id),
        "type": row.type,
        "data": row.data,
        "audience": row.audience,
    }


CLOSE = _CLOSE
hub = Hub()
