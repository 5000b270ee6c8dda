"""What the benchmarks share: a free port, an HTTP client cheap enough not to be measured instead of the
server, a load generator that does not pause, and the server's CPU time."""

import contextlib
import gc
import os
import socket
from collections.abc import Iterator
from pathlib import Path

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


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent pid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total
