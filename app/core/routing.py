"""Every domain router's route class: a sync endpoint runs and commits its request's session in one worker-thread
hop, and its answer is checked and serialised on the event loop.

`get_session` commits before the answer is sent in any case; doing it here, in the worker thread that ran the
endpoint, saves a hop back to the event loop and another thread hop while the transaction is open. On SQLite,
where a transaction holds the one write lock, that wait was most of the time the lock was held under load.
The endpoint is handed to FastAPI as a coroutine that awaits that hop: FastAPI validates a sync endpoint's
return value in yet another worker-thread hop, a coroutine's on the loop, where it takes a few microseconds.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from app.core.deps import SessionDep, SignedInUser, SignInCheck


class TransactionRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _commit_after(endpoint), **kwargs)


def _commit_after(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    hints = get_type_hints(endpoint, include_extras=True)
    names = [name for name, hint in hints.items() if name != "return" and hint == SessionDep]
    checks = [name for name, hint in hints.items() if name != "return" and hint == SignedInUser]
    plain = not (inspect.iscoroutinefunction(endpoint) or inspect.isasyncgenfunction(endpoint)
                 or inspect.isgeneratorfunction(endpoint))
    if not (plain and names):
        if checks:
            raise TypeError(f"{endpoint.__name__}: SignedInUser needs a plain sync endpoint that takes SessionDep")
        return endpoint  # on the event loop, streaming, or without a session: get_session commits for it
    name = names[0]

    def run_and_commit(kwargs: dict[str, Any]) -> Any:
        for check in checks:  # the sign-in check's session read (PostgreSQL), in this thread: see SignedInUser
            if isinstance(kwargs[check], SignInCheck):
                kwargs[check] = kwargs[check].user()
        result = endpoint(**kwargs)
        kwargs[name].commit()  # an error raised before this is get_session's to roll back (or keep)
        return result

    @functools.wraps(endpoint)
    async def in_worker_thread(**kwargs: Any) -> Any:
        return await run_in_threadpool(run_and_commit, kwargs)

    return in_worker_thread
