"""Fan-out benchmark: one notification to 15,000 subscriptions through the local push service.

    .venv/bin/python bench/fanout.py                       # SQLite, the in-process dispatcher
    PARLEY_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/fanout.py --workers 2       # PostgreSQL, two `parley worker` processes

It starts `python -m tests.pushservice` (which verifies every VAPID token and keeps every encrypted body),
creates 12,000 officers on one operation, 3,000 of them with a second device (15,000 subscriptions), sends
one notification the way Bronze does (inbox + outbox + audit in one transaction), then runs the dispatcher in
separate processes and prints: the time until all 15,000 were accepted by the push service, messages/s, CPU
seconds per 1,000 messages and peak memory of the dispatcher. For comparison it then sends the same message
as a plain sequential `pywebpush` loop (the usual way) over a sample. A sample of the accepted messages is
decrypted with the subscriptions' private keys (http_ece) to check they are what was sent.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._http import free_port, server_cpu_seconds  # noqa: E402  (after the path: run as a script)


def start_push_service(port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "tests.pushservice", "--port", str(port)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/_control/stats", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit("the push service did not start")


def arrange(subscriptions: list[dict], officers: int) -> tuple[uuid.UUID, uuid.UUID]:
    """Users, memberships, sessions and push subscriptions, inserted in bulk."""
    from sqlalchemy import insert

    from app.auth.models import AuthSession, User
    from app.core.config import get_settings
    from app.core.db import session_scope
    from app.core.security import hash_password
    from app.core.types import utcnow
    from app.notifications.models import PushSubscription
    from app.notifications.vapid import VapidSigner, ensure_vapid_key
    from app.operations.models import Membership, Operation

    settings = get_settings()
    ensure_vapid_key(settings)
    key_id = VapidSigner.from_settings(settings).key_id
    now = utcnow()
    password = hash_password("bench-password-123", settings)
    bronze_id, operation_id = uuid.uuid4(), uuid.uuid4()
    users = [{"id": bronze_id, "service_number": "B0", "display_name": "Bronze", "role": "bronze"}]
    users += [{"id": uuid.uuid4(), "service_number": f"O{i:05d}", "display_name": f"PC {i}", "role": "officer"}
              for i in range(officers)]
    for user in users:
        user |= {"password_hash": password, "active": True, "created_at": now, "updated_at": now}
    sessions = [{"id": uuid.uuid4(), "user_id": u["id"], "refresh_hash": uuid.uuid4().hex, "created_at": now,
                 "last_seen_at": now} for u in users[1:]]
    rows = []
    for index, subscription in enumerate(subscriptions):
        auth_session = sessions[index % officers]  # the first 3,000 officers get a second device
        rows.append({"id": uuid.uuid4(), "user_id": auth_session["user_id"], "session_id": auth_session["id"],
                     "endpoint": subscription["endpoint"], "p256dh": subscription["keys"]["p256dh"],
                     "auth": subscription["keys"]["auth"], "vapid_key_id": key_id, "created_at": now})
    with session_scope() as session:
        session.execute(insert(User), users)
        session.add(Operation(id=operation_id, name="Op Bench", starts_at=now, ends_at=now.replace(year=now.year + 1),
                              status="live", went_live_at=now))
        session.flush()
        session.execute(insert(Membership), [
            {"id": uuid.uuid4(), "operation_id": operation_id, "user_id": u["id"],
             "role": "bronze" if u["id"] == bronze_id else "officer", "group_name": None, "added_at": now}
            for u in users])
        session.execute(insert(AuthSession), sessions)
        session.execute(insert(PushSubscription), rows)
    return operation_id, bronze_id


def send_notification(operation_id: uuid.UUID, bronze_id: uuid.UUID) -> tuple[uuid.UUID, float]:
    from app.auth.models import User
    from app.core.db import session_scope
    from app.notifications import service
    from app.notifications.schemas import NotificationCreate
    from app.operations.access import operation_access

    started = time.perf_counter()
    with session_scope() as session:
        bronze = session.get(User, bronze_id)
        access = operation_access(session, actor=bronze, operation_id=operation_id)
        notification = service.send(session=session, access=access, data=NotificationCreate(
            title="Move to Corporation Street", urgency="high", ttl_seconds=3600, topic="route",
            body="All serials: the march is diverting via Corporation Street. Move to your new points now."))
        notification_id = notification.id
    return notification_id, time.perf_counter() - started


def dispatch_child(options: dict) -> None:
    """`--dispatch-child`: one long-running dispatcher process, like `parley worker`. Prints "ready" once it is
    polling the outbox, runs until SIGTERM, then prints its figures as JSON."""
    import asyncio
    import signal

    from app.core.config import get_settings
    from app.notifications.dispatcher import Dispatcher, DispatcherOptions

    async def run() -> dict:
        dispatcher = Dispatcher(get_settings(), DispatcherOptions(poll_seconds=0.02, **options))
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, dispatcher.stop)
        profile = os.environ.get("PARLEY_BENCH_PROFILE")
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        print("ready", flush=True)
        cpu = time.process_time()
        try:
            await dispatcher.run_forever()
        finally:
            await dispatcher.aclose()
        if profile:
            profiler.disable()
            profiler.dump_stats(profile)
        totals = dispatcher.totals
        return {"sent": totals.sent, "retried": totals.retried, "failed": totals.failed,
                "cpu_s": time.process_time() - cpu,
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}

    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        print(json.dumps(runner.run(run())), flush=True)


def sequential_pywebpush(subscriptions: list[dict], sample: int, private_key: str, payload: str) -> dict:
    from pywebpush import webpush

    started, cpu = time.perf_counter(), time.process_time()
    for subscription in subscriptions[:sample]:
        webpush(subscription, payload, vapid_private_key=private_key,
                vapid_claims={"sub": "mailto:parley-ops@example.invalid"}, ttl=3600, timeout=10)
    elapsed = time.perf_counter() - started
    return {"sample": sample, "elapsed_s": elapsed, "rate": sample / elapsed,
            "cpu_per_1000_s": (time.process_time() - cpu) / sample * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=15_000)
    parser.add_argument("--officers", type=int, default=12_000)
    parser.add_argument("--workers", type=int, default=1, help="dispatcher processes (more than 1: PostgreSQL)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--lanes", type=int, default=3)
    parser.add_argument("--baseline-sample", type=int, default=300)
    parser.add_argument("--rtt-ms", type=float, default=0.0,
                        help="the push service answers this much later (a real one is 20-50 ms away)")
    parser.add_argument("--dispatch-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dispatch_child:
        return dispatch_child(json.loads(args.dispatch_child))

    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    server_url = os.environ.get("PARLEY_DATABASE_URL", "")
    database_url = None
    if server_url.startswith("postgresql"):
        os.environ.setdefault("PARLEY_TEST_DATABASE_URL", server_url)
        from tests.dbutil import create_postgres_database

        database_url = create_postgres_database("parley_bench")
    elif args.workers > 1:
        raise SystemExit("several dispatcher processes need PostgreSQL (set PARLEY_DATABASE_URL)")
    port = free_port()
    env = {"PARLEY_DATA_DIR": str(workdir), "PARLEY_ENV": "development", "PARLEY_LOG_LEVEL": "WARNING",
           "PARLEY_PUSH_ALLOWED_HOSTS": "127.0.0.1", "PARLEY_PUSH_ALLOW_HTTP": "true"}
    if database_url:
        env["PARLEY_DATABASE_URL"] = database_url
    else:
        os.environ.pop("PARLEY_DATABASE_URL", None)
    os.environ.update(env)
    push = start_push_service(port)
    control = f"http://127.0.0.1:{port}/_control"
    try:
        from app.core.config import get_settings
        from app.core.migrations import upgrade

        settings = get_settings()
        upgrade(settings.effective_database_url)
        print(f"database: {'PostgreSQL' if database_url else 'SQLite'}; dispatcher processes: {args.workers}; "
              f"concurrency {args.concurrency} x lanes {args.lanes}, batch {args.batch}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (the machine is shared: wall times "
              "depend on it, CPU s per 1,000 much less)")
        t = time.perf_counter()
        subscriptions = httpx.post(f"{control}/subscriptions?count={args.subscriptions}", timeout=300).json()
        operation_id, bronze_id = arrange(subscriptions, args.officers)
        print(f"arranged {args.officers:,} officers, {len(subscriptions):,} subscriptions "
              f"in {time.perf_counter() - t:.1f} s")
        if args.rtt_ms:
            httpx.post(f"{control}/delay", json={"seconds": args.rtt_ms / 1000})
            print(f"the push service answers after {args.rtt_ms:.0f} ms (a network round trip)")

        # the dispatchers are already running when Bronze sends, as in `parley serve` or `parley worker`
        options = json.dumps({"concurrency": args.concurrency, "batch_size": args.batch, "lanes": args.lanes})
        children = [subprocess.Popen([sys.executable, __file__, "--dispatch-child", options], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True, env={**os.environ})
                    for _ in range(args.workers)]
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        notification_id, write_s = send_notification(operation_id, bronze_id)
        started = time.time()
        push_cpu = server_cpu_seconds(push.pid)
        print(f"send: notification + {args.officers:,} inbox entries + {len(subscriptions):,} outbox rows "
              f"+ audit written in {write_s:.2f} s")
        poll = httpx.Client(base_url=control)
        while True:
            stats = poll.get("/stats").json()
            if stats["accepted"] >= len(subscriptions) or any(c.poll() is not None for c in children):
                break
            time.sleep(0.02)
        push_cpu = server_cpu_seconds(push.pid) - push_cpu
        for child in children:
            child.send_signal(signal.SIGTERM)
        reports = [json.loads(c.communicate(timeout=60)[0].strip().splitlines()[-1]) for c in children]
        stats = httpx.get(f"{control}/stats").json()
        elapsed = stats["last_accept_at"] - started
        sent = sum(r["sent"] for r in reports)
        cpu = sum(r["cpu_s"] for r in reports)
        print()
        print(f"accepted by the push service: {stats['accepted']:,} of {len(subscriptions):,} "
              f"(rejected {stats['rejected']}, VAPID JWTs verified {stats['jwt_verifications']})")
        print(f"time until all were accepted: {elapsed:.2f} s (from the send's commit)")
        print(f"rate:                          {sent / elapsed:,.0f} messages/s")
        print(f"dispatcher CPU:                {cpu / sent * 1000:.3f} CPU s per 1,000 messages "
              f"({cpu:.1f} s in {args.workers} process(es))")
        print(f"dispatcher peak memory:        {max(r['max_rss_mb'] for r in reports):.0f} MB RSS per process")
        print(f"(the local push service used {push_cpu / sent * 1000:.3f} CPU s per 1,000 on the same 2 CPUs)")

        sample = subscriptions[:: max(1, len(subscriptions) // 25)]
        for subscription in sample:
            [message] = httpx.get(f"{control}/messages", params={"endpoint": subscription["endpoint"]}).json()
            assert message["id"] == str(notification_id) and message["title"] == "Move to Corporation Street"
        print(f"decrypted {len(sample)} sampled messages with the subscriptions' keys: all correct")

        from app.notifications.vapid import private_key_text

        baseline_subs = httpx.post(f"{control}/subscriptions?count={args.baseline_sample}", timeout=60).json()
        payload = json.dumps({"type": "notification", "id": str(notification_id), "title": "Move to Corporation "
                              "Street", "body": "All serials: the march is diverting via Corporation Street."})
        baseline = sequential_pywebpush(baseline_subs, args.baseline_sample, private_key_text(settings), payload)
        print()
        print(f"sequential pywebpush loop over {baseline['sample']} subscriptions: {baseline['rate']:,.0f} messages/s, "
              f"{baseline['cpu_per_1000_s']:.3f} CPU s per 1,000 "
              f"(15,000 would take {len(subscriptions) / baseline['rate']:.0f} s)")
        print(f"speed-up: {sent / elapsed / baseline['rate']:.1f}x in messages/s, "
              f"{baseline['cpu_per_1000_s'] / (cpu / sent * 1000):.1f}x in CPU per message; "
              f"load average now {os.getloadavg()[0]:.1f}")
    finally:
        push.terminate()
        push.wait(10)
        if database_url:
            from app.core.db import reset_engine
            from tests.dbutil import drop_postgres_database

            reset_engine()
            drop_postgres_database(database_url)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
