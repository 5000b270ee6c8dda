"""What runs around the app: keys made on first start, and background tasks (push dispatcher,
audit checkpoints) that domains register here."""

import asyncio
import gc
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager

from app.core.config import Settings, jwt_secret

# (name, factory) pairs; each factory returns a coroutine that runs until cancelled.
BACKGROUND: list[tuple[str, Callable[[Settings], Awaitable[None]]]] = []
# Functions that make sure a key exists (generated into data_dir on first start).
KEY_MAKERS: list[Callable[[Settings], object]] = [jwt_secret]
# Functions run at shutdown, after background tasks stop (e.g. a final audit checkpoint).
SHUTDOWN: list[Callable[[Settings], object]] = []


def freeze_startup_heap() -> None:
    """Move everything built at start (modules, the app, its routes and schemas: most of a process's objects) out of
    the cyclic collector's reach: they live as long as the process. Otherwise each full collection walks them all:
    88–168 ms pauses in the middle of a 200 reports/s burst, every report in flight held up (the report benchmark's
    p99). Once per process: a test process builds many apps, and frozen cycles are never collected."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def prepare_keys(settings: Settings) -> None:
    for make in KEY_MAKERS:
        make(settings)


@asynccontextmanager
async def background_tasks(app, settings: Settings):
    factories = BACKGROUND if settings.run_background else []
    tasks = [asyncio.create_task(factory(settings), name=name) for name, factory in factories]
    app.state.background_tasks = tasks
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for hook in SHUTDOWN:
            hook(settings)
