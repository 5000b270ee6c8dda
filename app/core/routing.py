"""Every domain router's route class: a sync endpoint commits its request's session in its own thread.

`get_session` commits before the answer is sent in any case; doing it here, in the worker thread that ran the
endpoint, saves a hop back to the event loop and another thread hop while the transaction is open. On SQLite,
where a transaction holds the one write lock, that wait was most of the time the lock was held under load.
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

from fastapi.routing import APIRoute

from app.core.deps import SessionDep


class TransactionRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _commit_after(endpoint), **kwargs)


def _commit_after(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):
        return endpoint  # runs on the event loop: get_session commits for it
    hints = get_type_hints(endpoint, include_extras=True)
    names = [name for name, hint in hints.items() if name != "return" and hint == SessionDep]
    if not names:
        return endpoint
    name = names[0]

    @functools.wraps(endpoint)
    def run_and_commit(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        kwargs[name].commit()  # an error raised before this is get_session's to roll back (or keep)
        return result

    return run_and_commit
