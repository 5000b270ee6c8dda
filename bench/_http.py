"""What every benchmark's load generator shares: a free port, and an HTTP client cheap enough not to be
measured instead of the server."""

import contextlib
import gc
import socket
from collections.abc import Iterator

import httpx

from app.notifications.transport import PushTransport


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_client(base: str, *, connections: int, timeout: float = 30) -> httpx.AsyncClient:
    """One httpx client for many simulated phones, on Parley's own push transport (one keep-alive connection
    per phone in flight, taken and given back in O(1), responses parsed by httptools). httpx's default pool
    scans every connection per request: with hundreds open it cost the load generator 2-5 ms of CPU per
    request on this 2-core machine, CPU the server under test then did not get."""
    return httpx.AsyncClient(base_url=base, timeout=timeout,
                             transport=PushTransport(max_idle_per_origin=connections,
                                                     max_response_bytes=1024 * 1024))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in the load generator while it drives: a full collection of its many live
    objects paused it for ~50 ms every few seconds, after which it sent the delayed requests in one burst,
    and the server's queueing behind that burst was measured as server latency."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
