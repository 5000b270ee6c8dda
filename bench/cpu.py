"""CPU per request in process: what a change costs, on a machine whose speed drifts.

Calls the app's ASGI entry point directly, one request at a time (no HTTP server, no load generator), on a
fresh database, and prints the median CPU per render or report over 10 rounds. With `--against REV` it also
checks REV out into a temporary worktree and alternates the two, round after round, so both see the same
machine: on this 2-core VM the same code measured ±15% minutes apart, more than most changes are worth.

    .venv/bin/python bench/cpu.py                              # render and report, SQLite
    .venv/bin/python bench/cpu.py -e postgresql --kind report
    .venv/bin/python bench/cpu.py --against ab2da22 --pairs 3  # this tree against an earlier commit
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def _call(app, path: str, token: str, body: dict) -> int:
    raw = json.dumps(body).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode()),
                         (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    status = []

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


def measure(engine: str, kind: str, requests: int) -> float:
    """Median CPU milliseconds per request over 10 rounds, after 100 unmeasured ones. Runs in the tree it is
    imported from (`sys.path[0]`)."""
    from bench._db import fresh_database

    os.environ.update({"PARLEY_JWT_SECRET": secrets.token_urlsafe(48), "PARLEY_ACCESS_TOKEN_MINUTES": "120",
                       "PARLEY_RUN_BACKGROUND": "false", "PARLEY_LOG_LEVEL": "WARNING"})
    with fresh_database(engine):
        from app.core.db import reset_engine

        if kind == "render":
            from bench.render import seed, slot_values

            operation_id, templates, tokens = seed(400)

            def request(rng: random.Random) -> tuple[str, dict]:
                template = rng.choice(templates)
                return f"/api/v1/templates/{template['id']}/render", {
                    "operation_id": str(operation_id), "slots": slot_values(template["slots"], rng),
                    "client_id": uuid.uuid4().hex, "channel": "in_person"}
        else:
            from bench.escalate import prepare, report_body

            operation_id, _bronze, officers = prepare(requests + 100)
            tokens = [headers["Authorization"].split()[1] for headers in officers]

            def request(rng: random.Random) -> tuple[str, dict]:
                return f"/api/v1/operations/{operation_id}/escalations", report_body(0, rng)
        reset_engine()
        from app.main import create_app

        app = create_app()

        async def drive() -> list[float]:
            rng, sent, rounds = random.Random(1), 0, []
            async with app.router.lifespan_context(app):
                for measured in [False] + [True] * 10:
                    count = 100 if not measured else max(requests // 10, 1)
                    started = time.process_time()
                    for _ in range(count):
                        path, body = request(rng)
                        status = await _call(app, path, tokens[sent % len(tokens)], body)
                        if status not in (200, 201):
                            raise SystemExit(f"{path} answered {status}")
                        sent += 1
                    if measured:
                        rounds.append((time.process_time() - started) / count * 1000)
            return rounds

        return statistics.median(asyncio.run(drive()))


def _run(tree: Path, engine: str, kind: str, requests: int) -> float:
    """One measurement in a fresh process whose `app` and `bench` helpers are `tree`'s (this file need not
    exist there)."""
    command = [sys.executable, __file__, "--one", str(tree), "-e", engine, "--kind", kind, "--requests", str(requests)]
    result = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{tree}: {result.stderr[-2000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-e", "--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--kind", choices=["render", "report", "both"], default="both")
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per run")
    parser.add_argument("--against", metavar="REV", help="also measure this git revision, alternating")
    parser.add_argument("--pairs", type=int, default=2, help="runs of each tree, alternating")
    parser.add_argument("--one", metavar="TREE", help=argparse.SUPPRESS)  # a single measurement in TREE
    args = parser.parse_args()
    if args.one:
        sys.path.insert(0, args.one)
        print(measure(args.engine, args.kind, args.requests))
        return
    kinds = ["render", "report"] if args.kind == "both" else [args.kind]
    with tempfile.TemporaryDirectory(prefix="parley-cpu-") as scratch:
        trees = {"this tree": ROOT}
        if args.against:
            other = Path(scratch) / "against"
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(other), args.against], cwd=ROOT,
                           check=True)
            trees[args.against] = other
        try:
            for kind in kinds:
                figures: dict[str, list[float]] = {name: [] for name in trees}
                for _ in range(args.pairs if args.against else 1):
                    for name, tree in trees.items():
                        figures[name].append(_run(tree, args.engine, kind, args.requests))
                for name, values in figures.items():
                    shown = ", ".join(f"{value:.2f}" for value in values)
                    print(f"{args.engine} {kind:6s} {name:>12s}: {shown} ms CPU per request (median of 10 rounds)")
        finally:
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(trees[args.against])], cwd=ROOT,
                               check=False)


if __name__ == "__main__":
    main()
