"""Rumour escalation under load: 2,000 officers report in bursts while Bronze's console listens.

Starts its own server (uvicorn, one process, on a free 127.0.0.1 port) on a fresh database, signs in the
officers, opens one SSE stream as Bronze, then sends one report per officer at the offered rate in bursts
(open loop: requests leave on schedule whether or not earlier ones have been answered). Prints accepted/s,
create latency and create-to-SSE latency (from the moment the officer's request leaves to the moment
Bronze's stream delivers the `escalation.created` event).

    .venv/bin/python bench/escalate.py                          # SQLite
    .venv/bin/python bench/escalate.py --engine postgresql      # PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/escalate.py --rate 400 --burst 800   # find the ceiling

Goals on the 2-core machine: p99 create under 150 ms at 200/s, p99 create-to-SSE under 500 ms.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._http import collector_paused, free_port, load_client, server_cpu_seconds  # noqa: E402  (after the path: run as a script)

RUMOURS = [
    "Police have closed the mosque on {street}",
    "Someone was stabbed near {place}",
    "Counter-protesters are marching from {place}",
    "All buses cancelled in the city centre",
    "Police kettling people in {place}",
    "Tanks seen on {street}",
    "A car drove into the crowd on {street}",
    "Fire at {place}",
    "Shops on {street} being looted",
    "Police arresting anyone carrying a flag",
    "Water cannon brought to {place}",
    "The march has been banned by the council",
]
STREETS = ["Corporation Street", "Bull Street", "New Street", "Broad Street", "Colmore Row"]
PLACES = ["Victoria Square", "New Street station", "the Bullring", "Digbeth coach station", "Centenary Square"]
LINKS = ["https://x.com/someone/status/{n}?s=20", "https://www.tiktok.com/@a/video/{n}", None, None, None]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


# --- setup -----------------------------------------------------------------------------------------------

def make_database(engine: str, pg_url: str) -> tuple[str, callable]:
    if engine == "sqlite":
        return "", lambda: None  # the data dir's default SQLite file
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    base = make_url(pg_url)
    name = f"parley_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def prepare(officers: int) -> tuple[str, dict[str, str], list[dict[str, str]]]:
    """Migrate, then write an operation, its Bronze and the officers with signed-in sessions directly (the
    sign-in path is not what this measures). Returns (operation id, Bronze headers, officers' headers)."""
    from sqlalchemy import insert

    from app.auth.models import AuthSession, User
    from app.core.config import get_settings
    from app.core.db import session_scope
    from app.core.migrations import upgrade
    from app.core.security import create_access_token
    from app.core.types import new_id, utcnow
    from app.operations.models import Membership, Operation

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    now = utcnow()
    operation_id = new_id()
    people = [("bronze", "bronze")] + [("officer", "officer")] * officers
    users, sessions, members = [], [], []
    for index, (role, op_role) in enumerate(people):
        user_id, session_id = new_id(), new_id()
        users.append({"id": user_id, "service_number": f"B{index:05d}", "display_name": f"Bench {role} {index}",
                      "role": role, "password_hash": "bench-no-login", "active": True, "created_at": now,
                      "updated_at": now})
        sessions.append({"id": session_id, "user_id": user_id, "device_name": "bench", "refresh_hash": "x" * 64,
                         "created_at": now, "last_seen_at": now, "revoked_at": None, "revoked_reason": None})
        members.append({"id": new_id(), "operation_id": operation_id, "user_id": user_id, "role": op_role,
                        "group_name": f"Serial {index % 20}", "added_at": now})
    with session_scope() as session:
        session.execute(insert(Operation).values(
            id=operation_id, name="Op Bench", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=6),
            status="live", exercise=True, created_at=now, updated_at=now, went_live_at=now))
        session.execute(insert(User), users)
        session.execute(insert(AuthSession), sessions)
        session.execute(insert(Membership), members)
    headers = []
    for user, auth_session in zip(users, sessions, strict=True):
        token, _ = create_access_token(user_id=user["id"], session_id=auth_session["id"], role=user["role"],
                                       settings=settings)
        headers.append({"Authorization": f"Bearer {token}"})
    return str(operation_id), headers[0], headers[1:]


def start_server(env: dict[str, str], port: int, workers: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1", "--port",
         str(port), "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "2",
         "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not become ready")


# --- the SSE listener (its own process, so the load generator does not delay its clock) --------------------

def listener_process(url: str, headers: dict[str, str], ready, log_path: str) -> None:
    """Bronze's console: appends `<escalation id> <arrival time>` for each `escalation.created` to a file
    as it arrives (so nothing is lost however the run ends)."""
    import gc

    gc.disable()  # a collection pause here would be measured as stream latency
    with open(log_path, "a", buffering=1) as log, httpx.Client(timeout=httpx.Timeout(10, read=None)) as client:
        try:
            with client.stream("GET", url, headers=headers) as response:
                ready.set()
                event_type = None
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event_type = line[6:].strip()
                    elif line.startswith("data:") and event_type == "escalation.created":
                        log.write(f"{json.loads(line[5:])['id']} {time.time()}\n")
        except httpx.HTTPError:
            pass  # the server went away


def read_arrivals(log_path: Path) -> dict[str, float]:
    arrivals = {}
    for line in log_path.read_text().splitlines():
        escalation_id, _, at = line.partition(" ")
        arrivals.setdefault(escalation_id, float(at))
    return arrivals


# --- the load --------------------------------------------------------------------------------------------

def report_body(index: int, rng: random.Random) -> dict:
    text = rng.choice(RUMOURS).format(street=rng.choice(STREETS), place=rng.choice(PLACES))
    if rng.random() < 0.3:
        text = rng.choice(["heard that ", "people saying ", "", "video going round: "]) + text.lower()
    link = rng.choice(LINKS)
    body = {"client_id": uuid.uuid4().hex, "summary": text,
            "category": rng.choice(["violence", "disorder", "police_action", "community_tension", "transport",
                                    "other"])}
    if link:
        body["source_url"] = link.format(n=rng.randint(1, 40))
    if rng.random() < 0.7:
        body.update(lat=52.48 + rng.uniform(-0.01, 0.01), lon=-1.89 + rng.uniform(-0.01, 0.01),
                    accuracy_m=rng.uniform(5, 50))
    return body


async def load(base: str, operation_id: str, officers: list[dict[str, str]], rate: float, burst: int,
               pause: float, seed: int) -> tuple[list[tuple[int, float, float, str | None]], float, float]:
    """One report per officer; bursts of `burst` reports at `rate`/s, `pause` seconds apart."""
    rng = random.Random(seed)
    url = f"{base}/api/v1/operations/{operation_id}/escalations"
    results: list[tuple[int, float, float, str | None]] = []
    async with load_client(base, connections=burst) as client:
        async def one(index: int, at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            body = report_body(index, rng)
            sent_wall, sent = time.time(), time.perf_counter()
            status, escalation_id = "not sent", None
            for _attempt in range(3):  # like the PWA's outbox: a dropped connection is retried, same client_id
                try:
                    response = await client.post(url, json=body, headers=officers[index])
                    status = response.status_code
                    escalation_id = response.json().get("id") if status in (200, 201) else None
                    break
                except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError) as exc:
                    status = type(exc).__name__
                except httpx.HTTPError as exc:  # a timeout: give up and count it
                    status = type(exc).__name__
                    break
            results.append((status, time.perf_counter() - sent, sent_wall, escalation_id))

        started = time.perf_counter() + 0.2
        schedule, at = [], started
        for index in range(len(officers)):
            if index and index % burst == 0:
                at += pause
            schedule.append(at)
            at += 1.0 / rate
        await asyncio.gather(*(one(i, t) for i, t in enumerate(schedule)))
        finished = time.perf_counter()
    return results, started, finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--officers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="offered escalations per second within a burst")
    parser.add_argument("--burst", type=int, default=400, help="reports per burst")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds of quiet between bursts")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=40,
                        help="reports by other officers before the measured run, not counted")
    parser.add_argument("--workers", type=int, default=2, help="app processes (uvicorn --workers)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    database_url, drop_database = make_database(args.engine, args.pg_url)
    env = {**os.environ, "PARLEY_ENV": "test", "PARLEY_DATA_DIR": str(workdir / "data"),
           "PARLEY_LOG_LEVEL": "WARNING", "PARLEY_RUN_BACKGROUND": "false"}
    if database_url:
        env["PARLEY_DATABASE_URL"] = database_url
    else:
        env.pop("PARLEY_DATABASE_URL", None)
    os.environ.clear()
    os.environ.update(env)
    server = None
    try:
        operation_id, bronze, officers = prepare(args.officers + args.warmup)
        warmup, officers = officers[:args.warmup], officers[args.warmup:]
        port = free_port()
        from app.core.db import reset_engine

        reset_engine()  # the set-up's pooled connections are not the server's
        server = start_server(env, port, args.workers)
        base = f"http://127.0.0.1:{port}"

        context = multiprocessing.get_context("spawn")
        ready, log_path = context.Event(), workdir / "sse-arrivals.log"
        listener = context.Process(target=listener_process, daemon=True, args=(
            f"{base}/api/v1/operations/{operation_id}/stream", bronze, ready, str(log_path)))
        listener.start()
        if not ready.wait(30):
            raise SystemExit("the SSE listener did not connect")
        time.sleep(0.5)

        with collector_paused():
            if warmup:  # the server's first queries are not the steady state; these reports are not counted
                asyncio.run(load(base, operation_id, warmup, 20, len(warmup), 0, args.seed + 1))
            cpu_before = server_cpu_seconds(server.pid)
            outcomes, started, finished = asyncio.run(
                load(base, operation_id, officers, args.rate, args.burst, args.pause, args.seed))
        server_cpu = server_cpu_seconds(server.pid) - cpu_before
        expected = sum(1 for o in outcomes if o[0] == 201) + len(warmup)
        deadline = time.monotonic() + 15
        while len(arrivals := read_arrivals(log_path)) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        listener.terminate()
        listener.join(5)

        accepted = [o for o in outcomes if o[0] in (200, 201)]
        failed = [o for o in outcomes if o[0] not in (200, 201)]
        latencies = [o[1] * 1000 for o in accepted]
        to_sse = [(arrivals[o[3]] - o[2]) * 1000 for o in accepted if o[3] in arrivals]
        elapsed = finished - started
        bursts = -(-args.officers // args.burst)
        print(f"engine {args.engine} ({args.workers} app process{'es' if args.workers > 1 else ''}): "
              f"{args.officers} officers, one report each, {bursts} bursts of {args.burst} "
              f"offered at {args.rate:.0f}/s, {args.pause:.1f} s apart, one SSE listener (Bronze)")
        failures = Counter(str(o[0]) for o in failed)
        print(f"accepted      {len(accepted)}/{len(outcomes)}"
              + (f"  failed: {dict(failures)}" if failures else ""))
        print(f"accepted/s    {len(accepted) / elapsed:.1f}  (over {elapsed:.1f} s incl. pauses; "
              f"{len(accepted) / max(0.001, elapsed - args.pause * (bursts - 1)):.1f}/s within bursts)")
        print(f"create ms     p50 {statistics.median(latencies):.1f}  p99 {percentile(latencies, 0.99):.1f}  "
              f"max {max(latencies):.1f}")
        if to_sse:
            print(f"create->SSE   p50 {statistics.median(to_sse):.1f}  p99 {percentile(to_sse, 0.99):.1f}  "
                  f"max {max(to_sse):.1f} ms  ({len(to_sse)}/{len(accepted)} events received)")
        else:
            print("create->SSE   no events received")
        print(f"server CPU    {server_cpu * 1000 / max(1, len(accepted)):.1f} ms per accepted report "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores during the run)")
        queue = httpx.get(f"{base}/api/v1/operations/{operation_id}/escalation-queue", headers=bronze, timeout=60)
        if queue.status_code == 200:
            sizes = sorted((row["size"] for row in queue.json()), reverse=True)
            print(f"grouping      {sum(sizes)} reports in {len(sizes)} queue rows; largest {sizes[:5]}")
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        from app.core.db import reset_engine

        reset_engine()
        drop_database()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
