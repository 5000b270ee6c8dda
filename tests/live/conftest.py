"""A real server for stream tests: Server-Sent Events never end, so they are read from uvicorn over a socket
(the in-process TestClient waits for a response to finish)."""

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]



class Server:
    """`uvicorn app.main:create_app` in a subprocess on the test's database and data directory."""

    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--timeout-graceful-shutdown", "1"],
            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Stream:
    """Reads an SSE stream in a thread; `next()` returns the next event {id, event, data}."""

    def __init__(self, url: str, headers: dict[str, str], last_event_id: str | None = None):
        self.events: queue.Queue = queue.Queue()
        self.status: int | None = None
        self.ended = threading.Event()
        self._opened = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=None))
        headers = {**headers, **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "stream did not open"

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                self._opened.set()
                event: dict = {}
                for line in response.iter_lines():
                    if line == "":
                        if "event" in event or "data" in event:
                            event["data"] = json.loads(event["data"]) if "data" in event else None
                            self.events.put(event)
                        elif "comment" in event:
                            self.events.put({"comment": event["comment"]})
                        event = {}
                    elif line.startswith(":"):
                        event["comment"] = line[1:].strip()
                    else:
                        field, _, value = line.partition(":")
                        event[field] = value[1:] if value.startswith(" ") else value
        except (httpx.HTTPError, RuntimeError):
            pass
        finally:
            self._opened.set()
            self.ended.set()

    def next(self, timeout: float = 10, *, skip_comments: bool = True) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            item = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if not (skip_comments and "comment" in item and "event" not in item):
                return item

    def nothing_more(self, wait: float = 1.0) -> bool:
        try:
            self.next(wait)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        """Drop the connection (the reader thread is a daemon and ends with it or with the server)."""
        self._client.close()


@pytest.fixture
def live_server(settings_env, world):
    """One app instance on the test database (the world and its keys exist before it starts)."""
    world.headers("bronze")  # makes the JWT key in the data dir before the server reads it
    servers: list[Server] = []

    def start() -> Server:
        server = Server(settings_env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
