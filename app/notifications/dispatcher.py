"""The push dispatcher: claims outbox rows, encrypts and sends them, records each outcome.

Several dispatchers may run at once on PostgreSQL (`parley worker` processes, plus the one inside
`parley serve`): rows are claimed with `FOR UPDATE SKIP LOCKED` and leased for `lease_seconds`. A process
killed mid fan-out loses nothing: its leases expire and another dispatcher sends those rows. The phone may
then see a message twice; the app drops the duplicate by notification id (and round). On SQLite every
transaction is serialised (BEGIN IMMEDIATE), and only the in-process dispatcher runs.
"""

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, or_, select, update
from sqlmodel import Session

from app.audit.writer import AuditAction, record
from app.auth.service import SESSION_END_HOOKS
from app.core import lifecycle
from app.core.config import Settings
from app.core.db import session_scope
from app.core.events import Audience, publish
from app.core.types import iso, utcnow
from app.notifications import service
from app.notifications.models import Notification, NotificationRecipient, PushDelivery, PushSubscription
from app.notifications.payload import build_payload, receipt_key, receipt_token
from app.notifications.sender import Outcome, PushMessage, PushSender
from app.notifications.vapid import VapidSigner, ensure_vapid_key
from app.operations.models import Operation

log = logging.getLogger("parley.push")


@dataclass
class DispatcherOptions:
    batch_size: int = 200  # rows per claim (their encryption runs on the event loop: ~30 ms per batch)
    lanes: int = 3  # claim/encrypt/send pipelines: one claims while another sends
    concurrency: int = 32  # requests in flight: enough to hide a real push service's 20-50 ms round trip
    lease_seconds: float = 60.0  # a claim older than this is free for another dispatcher
    poll_seconds: float = 0.5
    request_timeout: float = 10.0
    backoff_base_seconds: float = 2.0  # retry n waits a random time up to base * 2**(n-1) (full jitter)
    backoff_max_seconds: float = 600.0
    resend_every_seconds: float = 5.0
    progress_every_seconds: float = 2.0


@dataclass
class Job:
    delivery_id: uuid.UUID
    notification_id: uuid.UUID
    user_id: uuid.UUID
    subscription_id: uuid.UUID
    round: int
    attempts: int
    expires_at: datetime
    endpoint: str
    p256dh: str
    auth: str
    vapid_key_id: str


@dataclass
class DrainStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    gone: int = 0
    cancelled: int = 0

    def add(self, other: "DrainStats") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Dispatcher:
    settings: Settings
    options: DispatcherOptions = field(default_factory=DispatcherOptions)
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    sender: PushSender | None = None

    def __post_init__(self) -> None:
        self._receipt_key = receipt_key(self.settings)
        self._notifications: dict[uuid.UUID, tuple[Notification, bool]] = {}
        self._last_progress: dict[uuid.UUID, float] = {}
        self._touched: set[uuid.UUID] = set()
        self._stopping = False
        self.totals = DrainStats()  # everything this dispatcher did (the bench and `parley worker` report it)
        self._own_sender = self.sender is None
        if self.sender is None:
            self.sender = PushSender(VapidSigner.from_settings(self.settings), concurrency=self.options.concurrency,
                                     timeout=self.options.request_timeout)

    async def aclose(self) -> None:
        if self._own_sender and self.sender is not None:
            await self.sender.aclose()

    # --- database (run in a thread so the event loop serving the API never waits on it) --------------

    def _claim(self, cutoff: datetime) -> tuple[list[Job], DrainStats]:
        stats = DrainStats()
        now = utcnow()
        with session_scope() as session:
            due = (select(PushDelivery.id)
                   .where(PushDelivery.status == "pending", PushDelivery.next_attempt_at <= min(now, cutoff),
                          or_(PushDelivery.claimed_until.is_(None), PushDelivery.claimed_until < now))
                   .order_by(PushDelivery.next_attempt_at).limit(self.options.batch_size))
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = list(session.scalars(due))
            if not ids:
                return [], stats
            session.execute(update(PushDelivery).where(PushDelivery.id.in_(ids)).values(
                claimed_by=self.worker_id, claimed_until=now + timedelta(seconds=self.options.lease_seconds),
                attempts=PushDelivery.attempts + 1))
            # plain columns, not ORM objects: this runs for every 200 messages and competes for the GIL
            rows = session.execute(
                select(PushDelivery.id, PushDelivery.notification_id, NotificationRecipient.user_id,
                       PushDelivery.subscription_id, PushDelivery.round, PushDelivery.attempts,
                       PushDelivery.expires_at, PushSubscription.endpoint, PushSubscription.p256dh,
                       PushSubscription.auth, PushSubscription.vapid_key_id)
                .join(NotificationRecipient, NotificationRecipient.id == PushDelivery.recipient_id)
                .outerjoin(PushSubscription, PushSubscription.id == PushDelivery.subscription_id)
                .where(PushDelivery.id.in_(ids))).all()
            jobs, cancelled, expired = [], [], []
            for row in rows:
                if row.endpoint is None:
                    cancelled.append(row.id)  # the session ended or the push service dropped it
                elif row.expires_at <= now:
                    expired.append(row.id)
                else:
                    jobs.append(Job(*row))
            for status, chosen, error in (("cancelled", cancelled, "subscription removed"),
                                          ("failed", expired, "TTL ran out before it could be sent")):
                if chosen:
                    session.execute(update(PushDelivery).where(PushDelivery.id.in_(chosen)).values(
                        status=status, error=error, claimed_by=None, claimed_until=None))
            stats.claimed, stats.cancelled, stats.failed = len(ids), len(cancelled), len(expired)
            self._load_notifications(session, {job.notification_id for job in jobs})
        return jobs, stats

    def _load_notifications(self, session: Session, ids: set[uuid.UUID]) -> None:
        missing = [i for i in ids if i not in self._notifications]
        if missing:
            for notification, exercise in session.execute(
                select(Notification, Operation.exercise).join(Operation, Operation.id == Notification.operation_id)
                .where(Notification.id.in_(missing))):
                session.expunge(notification)
                self._notifications[notification.id] = (notification, exercise)

    def _prepare(self, jobs: list[Job]) -> list[tuple[Job, bytes | None, dict | None, str | None]]:
        """Payload and encryption per job (CPU work, kept off the event loop)."""
        prepared = []
        now = utcnow()
        for job in jobs:
            notification, exercise = self._notifications[job.notification_id]
            try:
                plaintext = build_payload(
                    notification=notification, exercise=exercise, user_id=job.user_id, round=job.round,
                    token=receipt_token(self._receipt_key, job.notification_id, job.user_id),
                    public_url=self.settings.public_url)
                message = PushMessage(job.endpoint, job.p256dh, job.auth, plaintext,
                                      ttl=max(0, int((notification.expires_at - now).total_seconds())),
                                      urgency=notification.urgency, topic=notification.topic)
                prepared.append((job, self.sender.encrypt(message), self.sender.headers(message), None))
            except ValueError as exc:  # e.g. keys a browser never made; recorded, never fatal
                prepared.append((job, None, None, f"cannot encrypt: {exc}"[:200]))
        return prepared

    def _backoff(self, attempts: int) -> float:
        ceiling = min(self.options.backoff_max_seconds, self.options.backoff_base_seconds * 2 ** max(0, attempts - 1))
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread out, but never retry at once

    def _record(self, results: list[tuple[Job, Outcome]]) -> DrainStats:
        stats = DrainStats()
        now = utcnow()
        by_kind: dict[str, list[dict]] = {"sent": [], "final": [], "retry": []}
        gone_subscriptions: dict[uuid.UUID, Job] = {}
        for job, outcome in results:
            row = {"id": job.delivery_id, "status_code": outcome.status_code, "error": outcome.error,
                   "claimed_by": None, "claimed_until": None}
            kind = outcome.kind
            if kind == "failed" and outcome.status_code in (401, 403) and job.vapid_key_id != self.sender.signer.key_id:
                kind = "gone"  # made with a VAPID key we no longer hold (`parley vapid rotate`): useless now
            if kind == "sent":
                by_kind["sent"].append({**row, "status": "sent", "sent_at": now})
                stats.sent += 1
            elif kind == "retry":
                wait = max(outcome.retry_after or 0.0, self._backoff(job.attempts))
                at = now + timedelta(seconds=wait)
                if at >= job.expires_at:
                    by_kind["final"].append({**row, "status": "failed",
                                             "error": f"{outcome.error}; gave up: TTL ran out"[:200]})
                    stats.failed += 1
                else:
                    by_kind["retry"].append({**row, "next_attempt_at": at})
                    stats.retried += 1
            else:
                status = "gone" if kind == "gone" else "failed"
                by_kind["final"].append({**row, "status": status})
                if kind == "gone":
                    gone_subscriptions[job.subscription_id] = job
                    stats.gone += 1
                else:
                    stats.failed += 1
        table = PushDelivery.__table__
        with session_scope() as session:
            for rows in by_kind.values():
                if rows:  # one executemany per outcome, in Core (no ORM bookkeeping for 200 rows)
                    names = [name for name in rows[0] if name != "id"]
                    statement = (update(table).where(table.c.id == bindparam("row_id"))
                                 .values({name: bindparam(f"v_{name}") for name in names}))
                    session.execute(statement, [{"row_id": row["id"], **{f"v_{n}": row[n] for n in names}}
                                                for row in rows])
            sent_subs = [job.subscription_id for job, outcome in results if outcome.kind == "sent"]
            if sent_subs:
                session.execute(update(PushSubscription).where(PushSubscription.id.in_(sent_subs))
                                .values(last_success_at=now))
            if gone_subscriptions:
                self._drop_subscriptions(session, gone_subscriptions)
            self._progress(session, {job.notification_id for job, _ in results})
        return stats

    def _drop_subscriptions(self, session: Session, gone: dict[uuid.UUID, Job]) -> None:
        existing = set(session.scalars(select(PushSubscription.id).where(PushSubscription.id.in_(list(gone)))))
        for subscription_id in existing:
            job = gone[subscription_id]
            notification, _ = self._notifications[job.notification_id]
            record(session, actor=None, actor_role="system", action=AuditAction.PUSH_SUBSCRIPTION_EXPIRED,
                   operation_id=notification.operation_id, target_type="push_subscription",
                   target_id=subscription_id, details={"user_id": str(job.user_id), "reason": "push service 404/410"})
        session.execute(delete(PushSubscription).where(PushSubscription.id.in_(list(existing))))

    def _progress(self, session: Session, notification_ids: set[uuid.UUID], *, force: bool = False) -> None:
        """Live figures for Bronze's console, at most every `progress_every_seconds` per message (plus a final
        one when a pass ends)."""
        now = time.monotonic()
        self._touched |= notification_ids
        due = [n for n in notification_ids
               if force or now - self._last_progress.get(n, 0.0) >= self.options.progress_every_seconds]
        if not due:
            return
        counts = service.counts_for(session, due)
        for notification_id in due:
            self._last_progress[notification_id] = now
            notification, _ = self._notifications[notification_id]
            publish(session, operation_id=notification.operation_id, type="notification.receipt",
                    data={"id": str(notification_id), "event": "dispatch", "at": iso(utcnow()),
                          "counts": counts[notification_id].model_dump()}, audience=Audience.command())

    def _final_progress(self) -> None:
        touched, self._touched = self._touched, set()
        if touched:
            with session_scope() as session:
                self._progress(session, touched, force=True)

    # --- the loop ------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the batches in hand, claim no more (SIGTERM). Unfinished claims simply expire."""
        self._stopping = True

    async def _lane(self, totals: DrainStats, cutoff: datetime) -> None:
        while not self._stopping:
            jobs, stats = await asyncio.to_thread(self._claim, cutoff)
            totals.add(stats)
            if not jobs:
                if stats.claimed:
                    continue
                return
            prepared = self._prepare(jobs)  # CPU-bound: a thread would only add GIL hand-offs
            outcomes = await asyncio.gather(*(
                self.sender.post(job.endpoint, body, headers) if body is not None else _failed(error)
                for job, body, headers, error in prepared))
            totals.add(await asyncio.to_thread(self._record, [(p[0], o) for p, o in zip(prepared, outcomes,
                                                                                         strict=True)]))

    async def drain(self) -> DrainStats:
        """Send everything that is due now, then return (tests, `parley worker --once`). Rows rescheduled
        during this pass (retries) wait for the next pass, so a failing push service cannot keep it busy."""
        totals = DrainStats()
        cutoff = utcnow()
        await asyncio.gather(*(self._lane(totals, cutoff) for _ in range(self.options.lanes)))
        await asyncio.to_thread(self._final_progress)
        self.totals.add(totals)
        return totals

    async def run_forever(self) -> None:
        next_resend = 0.0
        while not self._stopping:
            try:
                if time.monotonic() >= next_resend:
                    await asyncio.to_thread(resend_due_once)
                    next_resend = time.monotonic() + self.options.resend_every_seconds
                stats = await self.drain()
                if stats.claimed:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # the database restarting must not end the dispatcher
                log.exception("push dispatcher pass failed; retrying")
                await asyncio.sleep(min(5.0, self.options.poll_seconds * 4))
            await asyncio.sleep(self.options.poll_seconds)


def run_worker(settings: Settings, options: DispatcherOptions, *, once: bool = False) -> DrainStats | None:
    """`parley worker`: one dispatcher process (uvloop when available). SIGTERM/SIGINT stop it cleanly."""
    import signal

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        loop_factory = None

    async def main() -> DrainStats | None:
        dispatcher = Dispatcher(settings, options)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, dispatcher.stop)
        try:
            if once:
                await asyncio.to_thread(resend_due_once)
                return await dispatcher.drain()
            await dispatcher.run_forever()
            return None
        finally:
            await dispatcher.aclose()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main())


async def _failed(error: str | None) -> Outcome:
    return Outcome("failed", error=error)


def resend_due_once() -> list[uuid.UUID]:
    """Re-send messages whose ack deadline passed to those who have not acknowledged (once per message)."""
    with session_scope() as session:
        return service.resend_unacknowledged(session)


async def drain_once(settings: Settings, options: DispatcherOptions | None = None,
                     sender: PushSender | None = None) -> DrainStats:
    dispatcher = Dispatcher(settings, options or DispatcherOptions(), sender=sender)
    try:
        return await dispatcher.drain()
    finally:
        await dispatcher.aclose()


async def run_in_process(settings: Settings) -> None:
    """BACKGROUND task inside `parley serve`: the dispatcher and the ack-deadline re-sender. Smaller batches
    than a worker's: their encryption runs on the event loop that also serves the API."""
    dispatcher = Dispatcher(settings, DispatcherOptions(batch_size=50))
    try:
        await dispatcher.run_forever()
    finally:
        await dispatcher.aclose()


lifecycle.KEY_MAKERS.append(ensure_vapid_key)
lifecycle.BACKGROUND.append(("push-dispatcher", run_in_process))
SESSION_END_HOOKS.append(service.drop_session_subscriptions)
