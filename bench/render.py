"""Render benchmark: many officers rendering approved templates against a real Parley server.

Starts `uvicorn app.main:create_app` on a free 127.0.0.1 port with a fresh database (SQLite file in a
temporary directory, or a new PostgreSQL database that is dropped afterwards), seeds one live operation with
N officers in serials and a few approved templates (written through the real service, four eyes and all),
then drives the officers concurrently with httpx.AsyncClient and prints renders/s and latency percentiles.

    .venv/bin/python bench/render.py                                  # SQLite, 200 officers, 300 renders/s
    .venv/bin/python bench/render.py --engine postgresql              # PostgreSQL on 127.0.0.1:5432
    .venv/bin/python bench/render.py --rate 0 --duration 20           # closed loop: as fast as it goes
    PARLEY_BENCH_PG=postgresql+psycopg://u:p@host/postgres .venv/bin/python bench/render.py -e postgresql

`--rate R` is an open-loop arrival rate (each officer sends on its own schedule so that together they send
R renders per second); latency is measured from each request's scheduled time, so a server that falls
behind shows it in p99 instead of hiding it (no coordinated omission). Every render is then checked in
the database: one template use and one audit event each, none lost or doubled.
"""

import argparse
import asyncio
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._http import collector_paused, free_port, load_client, server_cpu_seconds  # noqa: E402  (after the path: run as a script)

LOCATIONS = ["Bull Street", "Victoria Square", "Corporation Street", "New Street", "Gate 3", "Colmore Row",
             "St Philip's Place", "Moor Street", "Plac Wolności", "بل اسٹریٹ"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def seed(officers: int) -> tuple[uuid.UUID, list[dict], list[str]]:
    """One live operation, `officers` officers in serials of 10, approved templates; their access tokens."""
    from app.auth.models import AuthSession, User
    from app.core.config import get_settings
    from app.core.db import session_scope
    from app.core.security import create_access_token, hash_password, new_refresh_token, token_digest
    from app.core.types import utcnow
    from app.operations.access import operation_access
    from app.operations.models import Membership, Operation
    from app.templates import demo, service
    from app.templates.schemas import TemplateQuery

    settings = get_settings()
    password_hash = hash_password(secrets.token_urlsafe(16), settings)
    now = utcnow()
    with session_scope() as session:
        staff = {role: User(service_number=f"{role[:1].upper()}9{index}", display_name=f"Bench {role}", role=role,
                            password_hash=password_hash) for index, role in enumerate(["comms", "gold", "bronze"])}
        session.add_all(staff.values())
        operation = Operation(name="Op Benchmark", starts_at=now - timedelta(hours=1),
                              ends_at=now + timedelta(hours=8), status="live", went_live_at=now)
        session.add(operation)
        session.flush()
        session.add_all(Membership(operation_id=operation.id, user_id=user.id, role=role)
                        for role, user in staff.items())
        demo.load(session, operation=operation, comms=staff["comms"], gold=staff["gold"], bronze=staff["bronze"])
        users = [User(service_number=f"B{index:05d}", display_name=f"PC Bench {index}", role="officer",
                      password_hash=password_hash) for index in range(officers)]
        session.add_all(users)
        session.flush()
        session.add_all(Membership(operation_id=operation.id, user_id=user.id, role="officer",
                                   group_name=f"Serial {index // 10 + 1}") for index, user in enumerate(users))
        sessions = [AuthSession(user_id=user.id, device_name="bench", refresh_hash="") for user in users]
        for auth_session in sessions:
            auth_session.refresh_hash = token_digest(new_refresh_token(auth_session.id))
        session.add_all(sessions)
        session.flush()
        tokens = [create_access_token(user_id=u.id, session_id=s.id, role="officer", settings=settings)[0]
                  for u, s in zip(users, sessions, strict=True)]
        access = operation_access(session, actor=users[0], operation_id=operation.id)
        templates = [{"id": t.id, "slots": t.slots}
                     for t in service.list_for_operation(session=session, access=access, query=TemplateQuery())]
        return operation.id, templates, tokens


def slot_values(slots: list[dict], rng: random.Random) -> dict[str, str]:
    return {slot["name"]: rng.choice(slot["choices"]) if slot["kind"] == "choice" else rng.choice(LOCATIONS)
            for slot in slots}


async def drive(base: str, operation_id: uuid.UUID, templates: list[dict], tokens: list[str], *, rate: float,
                duration: float, warmup: float) -> tuple[list[float], dict[int, int], float, int]:
    """(latencies, statuses, elapsed, warm-up renders). First every officer renders once, spread over `warmup`
    seconds and not measured (a phone's first request, the server's first queries: a cold start is not the
    steady state the goal is about); then the measured run."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    officers = len(tokens)
    async with load_client(base, connections=officers) as client:

        async def render(index: int, rng: random.Random) -> int:
            template = rng.choice(templates)
            body = {"operation_id": str(operation_id), "slots": slot_values(template["slots"], rng),
                    "client_id": uuid.uuid4().hex, "channel": rng.choice(["social_reply", "in_person"])}
            try:
                response = await client.post(f"/api/v1/templates/{template['id']}/render", json=body,
                                             headers={"Authorization": f"Bearer {tokens[index]}"})
                return response.status_code
            except httpx.HTTPError:
                return 0

        async def warm(index: int) -> int:
            await asyncio.sleep(warmup * index / officers)
            return await render(index, random.Random(-index - 1))

        warmed = sum(status == 201 for status in await asyncio.gather(*(warm(i) for i in range(officers))))
        start = time.perf_counter() + 0.5

        async def officer(index: int) -> None:
            rng = random.Random(index)
            sent = 0
            while True:
                scheduled = start + (sent * officers + index) / rate if rate else time.perf_counter()
                if scheduled - start >= duration:
                    return
                await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
                status = await render(index, rng)
                latencies.append(time.perf_counter() - scheduled)
                statuses[status] = statuses.get(status, 0) + 1
                sent += 1

        await asyncio.gather(*(officer(i) for i in range(officers)))
        elapsed = time.perf_counter() - start
    return latencies, statuses, elapsed, warmed


def check_records() -> tuple[int, int]:
    from sqlalchemy import func, select

    from app.audit.models import AuditEvent
    from app.core.db import session_scope
    from app.templates.models import TemplateUse

    with session_scope() as session:
        uses = session.scalar(select(func.count()).select_from(TemplateUse))
        events = session.scalar(select(func.count()).where(AuditEvent.action == "template.used"))
    return uses, events


def wait_ready(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-e", "--engine", choices=["sqlite", "postgresql"],
                        default=os.environ.get("PARLEY_BENCH_ENGINE", "sqlite"))
    parser.add_argument("--officers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=300, help="renders per second in all; 0 = closed loop")
    parser.add_argument("--duration", type=float, default=20, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--warmup", type=float, default=2, help="seconds in which each officer renders once, "
                                                                "before the measured run")
    args = parser.parse_args()

    # A SIGTERM (e.g. from `timeout`) still runs the clean-up below: the server is stopped, the database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from app.core.db import reset_engine
    from bench._db import fresh_database

    with fresh_database(args.engine) as (url, data_dir):
        env = {**os.environ, "PARLEY_DATABASE_URL": url, "PARLEY_DATA_DIR": data_dir,
               "PARLEY_JWT_SECRET": secrets.token_urlsafe(48), "PARLEY_ACCESS_TOKEN_MINUTES": "120",
               "PARLEY_RUN_BACKGROUND": "false", "PARLEY_LOG_LEVEL": "WARNING", "PARLEY_ENV": "development"}
        os.environ.update(env)
        operation_id, templates, tokens = seed(args.officers)
        reset_engine()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, env=env)
        try:
            wait_ready(base, server)
            load_before, cpu_before = os.getloadavg()[0], server_cpu_seconds(server.pid)
            client_before = time.process_time()
            with collector_paused():
                latencies, statuses, elapsed, warmed = asyncio.run(drive(
                    base, operation_id, templates, tokens, rate=args.rate, duration=args.duration,
                    warmup=args.warmup))
            server_cpu = server_cpu_seconds(server.pid) - cpu_before
            client_cpu = time.process_time() - client_before
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        ok = statuses.get(201, 0)
        uses, events = check_records()
    mode = f"open loop at {args.rate:g}/s" if args.rate else "closed loop"
    ms = [value * 1000 for value in latencies]
    print(f"engine={args.engine} officers={args.officers} workers={args.workers} {mode} duration={elapsed:.1f}s "
          f"(after {warmed} warm-up renders, one per officer)")
    print(f"renders ok={ok} other={ {k: v for k, v in statuses.items() if k != 201} } "
          f"renders/s={ok / elapsed:.1f}")
    print(f"latency ms: p50={percentile(ms, 0.50):.1f} p90={percentile(ms, 0.90):.1f} "
          f"p99={percentile(ms, 0.99):.1f} max={max(ms):.1f} mean={statistics.fmean(ms):.1f}")
    # The machine may be shared: the server's own CPU time per render says what it costs, whatever the load.
    total = ok + warmed
    print(f"server CPU per render: {server_cpu / max(total, 1) * 1000:.2f} ms "
          f"(one core: ~{total / server_cpu if server_cpu else float('nan'):.0f} renders/s); "
          f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"load generator CPU per render: {client_cpu / max(len(latencies) + warmed, 1) * 1000:.2f} ms "
          f"(it shares the machine with the server)")
    print(f"recorded: template_use rows={uses} template.used audit events={events} "
          f"({'match' if uses == events == total else 'MISMATCH'})")


if __name__ == "__main__":
    main()
