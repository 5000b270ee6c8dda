"""The report's intake: reports to one operation that arrive while its reports are being recorded wait, and then go
in together, in one transaction (group commit).

Every report to an operation takes that operation's lock to be grouped, and holds it until its commit. One report
per transaction capped a rumour burst at one lock holder's turn per report: about 5 ms on this 2-core machine, under
200 reports/s, so at 200/s a queue built up and waited seconds. Here one process records an operation's reports one
batch at a time: a batch's reads go in two round trips and its writes with one COMMIT however many reports it holds,
so the reports that queued during one turn are all recorded in the next. A lone report is a batch of one, recorded
at once, as before.

- Each report in a batch gets the answer a transaction of its own would have given: the reports are decided in the
  order they arrived, each seeing those before it (`service.create_escalations`), and a refused one (not signed in,
  not a member, a reused client_id) is refused alone, nothing of it recorded.
- One officer's same client_id never goes in the batch of its first use: it waits for the next, which sees the first
  committed, and is answered as a repeat.
- If a batch fails as a whole (a unique clash at the commit: the same client_id used in another operation at the
  same moment), each of its reports is recorded again on its own, so only the one at fault is refused.
- A request that hangs up while it waits does not take its report out: it is recorded all the same, as a request
  whose answer was lost (the phone's outbox sends it again and hears it was a repeat).
"""

import asyncio
import contextvars
import uuid
import weakref
from dataclasses import dataclass, field

import structlog
from starlette.concurrency import run_in_threadpool

from app.audit.writer import client_ip
from app.core.config import get_settings
from app.core.db import request_slots, session_scope
from app.core.deps import SignInCheck
from app.core.security import AccessClaims
from app.escalations import service
from app.escalations.schemas import EscalationCreate, EscalationPublic

# Reports per transaction: a burst's queue, bounded so that one batch's turn (on SQLite, its hold on the one write
# lock, which renders wait for too) stays short: ~0.3 s here at its largest. At 200/s batches held 1.5 on average.
MAX_BATCH = 50
log = structlog.get_logger(__name__)


@dataclass(eq=False)
class _Waiting:
    claims: AccessClaims
    data: EscalationCreate
    answer: asyncio.Future
    ip: str | None = field(default_factory=client_ip.get)

    @property
    def once(self) -> tuple[uuid.UUID, str]:
        return self.claims.user_id, self.data.client_id


class Intake:
    """One per event loop (a process serves on one). An operation's batches run one at a time, in a task of their
    own; reports to different operations do not wait for each other."""

    def __init__(self) -> None:
        self._waiting: dict[uuid.UUID, list[_Waiting]] = {}
        self._draining: dict[uuid.UUID, asyncio.Task] = {}

    async def report(self, operation_id: uuid.UUID, claims: AccessClaims, data: EscalationCreate
                     ) -> tuple[EscalationPublic, bool]:
        """(the report, created?), or the error a request of its own would have raised."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(claims, data, loop.create_future())
        waiting.answer.add_done_callback(_retrieved)  # a refusal nobody waits for any more is not an error to log
        self._waiting.setdefault(operation_id, []).append(waiting)
        if operation_id not in self._draining:
            # in a context of its own: not the request's that happened to start it (its request id in the logs)
            self._draining[operation_id] = loop.create_task(self._drain(operation_id), context=contextvars.Context())
        return await asyncio.shield(waiting.answer)  # hanging up does not take the report out

    async def _drain(self, operation_id: uuid.UUID) -> None:
        try:
            while self._waiting.get(operation_id):
                await self._record(operation_id, self._take(operation_id))
        finally:
            del self._draining[operation_id]
            for waiting in self._waiting.pop(operation_id, []):  # only if cancelled (shutting down): none is left
                waiting.answer.cancel()                          # waiting for an answer that cannot come

    def _take(self, operation_id: uuid.UUID) -> list[_Waiting]:
        batch, later, taken = [], [], set()
        for waiting in self._waiting[operation_id]:
            if len(batch) < MAX_BATCH and waiting.once not in taken:
                batch.append(waiting)
                taken.add(waiting.once)
            else:
                later.append(waiting)
        self._waiting[operation_id] = later
        return batch

    async def _record(self, operation_id: uuid.UUID, batch: list[_Waiting]) -> None:
        try:
            async with request_slots():  # a database session's slot, as a request's
                answers = await run_in_threadpool(_record_batch, operation_id, batch)
        except Exception as exc:  # not the database's (`_record_batch` answers those): each hears it, the next go on
            answers = [(None, exc)] * len(batch)
        except BaseException:  # cancelled: shutting down
            for waiting in batch:
                waiting.answer.cancel()
            raise
        for waiting, (outcome, error) in zip(batch, answers, strict=True):
            if waiting.answer.done():
                continue
            if error is not None:
                waiting.answer.set_exception(error)
            else:
                waiting.answer.set_result(outcome)


def _retrieved(answer: asyncio.Future) -> None:
    if not answer.cancelled():
        answer.exception()


def _record_batch(operation_id: uuid.UUID, batch: list[_Waiting]) -> list[tuple[object, BaseException | None]]:
    """Each report's (outcome, error), in a worker thread: the batch in one transaction, or, if that fails as a whole,
    each report in one of its own."""
    try:
        return _in_one_transaction(operation_id, batch)
    except Exception as error:
        if len(batch) == 1:
            return [(None, error)]
        log.warning("report_batch_failed", operation_id=str(operation_id), reports=len(batch),
                    error=type(error).__name__)
    answers = []
    for waiting in batch:
        try:
            answers.extend(_in_one_transaction(operation_id, [waiting]))
        except Exception as error:
            answers.append((None, error))
    return answers


def _in_one_transaction(operation_id: uuid.UUID, batch: list[_Waiting]) -> list[tuple[object, BaseException | None]]:
    settings = get_settings()
    with session_scope() as session:
        submissions = [service.Submission(SignInCheck(session, settings, waiting.claims), waiting.data, waiting.ip)
                       for waiting in batch]
        service.create_escalations(session=session, operation_id=operation_id, submissions=submissions)
    return [(submission.outcome, submission.error) for submission in submissions]


_intakes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Intake]" = weakref.WeakKeyDictionary()


def intake() -> Intake:
    """This event loop's intake (tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    if loop not in _intakes:
        _intakes[loop] = Intake()
    return _intakes[loop]
