"""Export and offline verification of 1,000,000 audit events, on SQLite and PostgreSQL.

Fills a fresh database with N events carrying real chained hashes (a bulk insert; the append-only
trigger stays in place: it refuses only UPDATE and DELETE), starts `uvicorn app.main:create_app` in
its own process, downloads GET /api/v1/audit/export as CSV and as JSON Lines over HTTP, fetches the CSV
manifest, and runs `parley audit verify-export` on both files in a process of its own. Prints time,
MB/s and the server's peak memory (VmHWM) for each export, and the verification times.

Goals on a 2-core machine: 1M events exported in under 30 s with under 200 MB peak server memory,
verified in under 20 s.

    .venv/bin/python bench/audit_export.py [--events 1000000] [--engines sqlite,postgresql]
"""

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._db import fresh_database  # noqa: E402

ACTIONS = ["auth.login", "template.used", "escalation.created", "escalation.transitioned", "notification.sent",
           "notification.receipt", "decision.recorded", "operation.briefing_acknowledged"]
BATCH = 20_000


def _events(count: int):
    """Plausible events with their real chain: seq, prev_hash and hash exactly as the writer makes them."""
    from app.audit.chain import GENESIS_HASH, event_hash
    from app.core.types import iso

    rng = random.Random(7)
    actors = [(str(uuid.UUID(int=rng.getrandbits(128))), rng.choice(["officer", "bronze", "gold", "comms"]))
              for _ in range(2_000)]
    operations = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(20)]
    start = datetime(2026, 6, 1, tzinfo=UTC)
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        actor_id, role = actors[seq % len(actors)]
        action = ACTIONS[seq % len(ACTIONS)]
        event = {
            "seq": seq, "at": iso(start + timedelta(milliseconds=seq * 37)), "actor_id": actor_id,
            "actor_role": role, "operation_id": operations[seq % len(operations)], "action": action,
            "target_type": action.split(".")[0], "target_id": str(uuid.UUID(int=seq)),
            "details": {"channel": "social_reply", "text": f"Reply {seq}: the road is closed for your safety",
                        "slots": {"road": "Station Rd", "until": "18:00"}},
            "ip": f"10.{seq % 250}.{seq % 199}.{seq % 251}", "prev_hash": prev,
        }
        event["hash"] = prev = event_hash(event)
        yield event


def fill(count: int) -> float:
    """Bulk insert `count` chained events; returns seconds taken."""
    from app.core.db import get_engine
    from app.core.types import parse_iso

    began = time.perf_counter()
    engine = get_engine()
    batch: list[dict] = []
    if engine.dialect.name == "postgresql":
        columns = ("seq", "at", "actor_id", "actor_role", "operation_id", "action", "target_type", "target_id",
                   "details", "ip", "prev_hash", "hash")
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cursor, cursor.copy(f"COPY audit_event ({', '.join(columns)}) FROM STDIN") as copy:
                for event in _events(count):
                    copy.write_row([json.dumps(event["details"]) if name == "details" else event[name]
                                    for name in columns])
            raw.commit()
            raw.cursor().execute("ANALYZE audit_event")  # as autovacuum would after a load this size
            raw.commit()
        finally:
            raw.close()
        return time.perf_counter() - began
    # SQLite: the driver directly, one transaction, values stored as SQLAlchemy stores them
    columns = ("seq", "at", "actor_id", "actor_role", "operation_id", "action", "target_type", "target_id",
               "details", "ip", "prev_hash", "hash")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        sql = f"INSERT INTO audit_event ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        for event in _events(count):
            event["at"] = parse_iso(event["at"]).strftime("%Y-%m-%d %H:%M:%S.%f")
            event["details"] = json.dumps(event["details"])
            batch.append(tuple(event[name] for name in columns))
            if len(batch) == BATCH:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
        cursor.execute("COMMIT")
        cursor.execute("ANALYZE audit_event")
    finally:
        raw.close()
    return time.perf_counter() - began


def _auditor_token() -> str:
    from app.auth.models import AuthSession, User
    from app.core.config import get_settings
    from app.core.db import session_scope
    from app.core.security import create_access_token

    settings = get_settings()
    with session_scope() as session:
        auditor = User(service_number="AUD-BENCH", display_name="Bench Auditor", role="auditor", password_hash="x")
        session.add(auditor)
        session.flush()
        auth_session = AuthSession(user_id=auditor.id, device_name="bench", refresh_hash="bench")
        session.add(auth_session)
    token, _ = create_access_token(user_id=auditor.id, session_id=auth_session.id, role="auditor",
                                   settings=settings)
    return token


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process: what the work costs, however busy the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _download(client, url: str, params: dict, path: Path) -> tuple[float, int, dict]:
    began = time.perf_counter()
    size = 0
    with client.stream("GET", url, params=params) as response, path.open("wb") as out:
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 20):
            out.write(chunk)
            size += len(chunk)
        headers = dict(response.headers)
    return time.perf_counter() - began, size, headers


def _verify(path: Path, key: str, manifest: Path | None = None) -> tuple[float, float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    args = [sys.executable, "-m", "app.cli", "audit", "verify-export", str(path), "--public-key", key]
    if manifest:
        args += ["--manifest", str(manifest)]
    began, cpu_before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
    elapsed, cpu_after = time.perf_counter() - began, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return elapsed, cpu, (result.stdout.splitlines() or [result.stderr])[0]


def run(engine_name: str, count: int) -> None:
    import httpx

    from app.audit import signing
    from app.core.config import get_settings, jwt_secret

    with fresh_database(engine_name) as (_url, data_dir):
        fill_seconds = fill(count)
        print(f"[{engine_name}] filled {count:,} chained events in {fill_seconds:.1f} s", flush=True)
        settings = get_settings()
        jwt_secret(settings)  # the server reads the same generated keys from the data dir
        key = signing.public_key_b64(settings)
        token = _auditor_token()
        port = _free_port()
        env = {**os.environ, "PARLEY_RUN_BACKGROUND": "false", "PARLEY_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
             "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
                for _ in range(100):
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.2)
                baseline = _peak_rss_mb(server.pid)
                out = Path(data_dir) / "exports"
                out.mkdir(parents=True, exist_ok=True)
                figures = {}
                for fmt in ("csv", "jsonl"):
                    path = out / f"export.{fmt}"
                    cpu_before = _cpu_seconds(server.pid)
                    seconds, size, headers = _download(client, "/api/v1/audit/export", {"format": fmt}, path)
                    figures[fmt] = (seconds, size, _peak_rss_mb(server.pid), headers,
                                    _cpu_seconds(server.pid) - cpu_before)
                began = time.perf_counter()
                manifest = client.get("/api/v1/audit/export/manifest",
                                      params={"format": "csv", "to_seq": figures["csv"][3]["x-audit-to-seq"]})
                manifest.raise_for_status()
                manifest_seconds = time.perf_counter() - began
                (out / "manifest.json").write_bytes(manifest.content)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(f"[{engine_name}] server memory before exports: {baseline:.0f} MB (peak RSS)")
        for fmt, (seconds, size, peak, _, cpu) in figures.items():
            print(f"[{engine_name}] export {fmt:<5}: {seconds:6.1f} s  {size / 1e6:7.1f} MB  "
                  f"{size / 1e6 / seconds:6.1f} MB/s  server CPU {cpu:5.1f} s  server peak RSS {peak:.0f} MB",
                  flush=True)
        print(f"[{engine_name}] CSV manifest (re-reads and hashes the export): {manifest_seconds:.1f} s")
        for fmt, manifest_path in (("jsonl", None), ("csv", out / "manifest.json")):
            seconds, cpu, verdict = _verify(out / f"export.{fmt}", key, manifest_path)
            print(f"[{engine_name}] verify-export {fmt:<5}: {seconds:6.1f} s  CPU {cpu:5.1f} s  {verdict}", flush=True)
        print(f"[{engine_name}] machine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    for engine_name in args.engines.split(","):
        run(engine_name, args.events)


if __name__ == "__main__":
    main()
