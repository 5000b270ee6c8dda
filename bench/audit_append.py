"""Audited writes per second with 1, 8 and 32 concurrent writers, on SQLite and PostgreSQL.

Each write is a real service call in a real transaction: `operations.service.record_decision` (a
decision-log entry plus its `decision.recorded` audit event through `app.audit.writer.record`). After
each run the whole chain is verified. Goal: >= 500 audited writes/s on PostgreSQL on a 2-core machine.

    .venv/bin/python bench/audit_append.py [--seconds 8] [--engines sqlite,postgresql] [--writers 1,8,32]
                                           [--processes 1,2]
"""

import argparse
import multiprocessing
import os
import resource
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._db import fresh_database  # noqa: E402


def _arrange():
    from app.auth.models import User
    from app.core.db import session_scope
    from app.core.types import utcnow
    from app.operations.models import Membership, Operation

    with session_scope() as session:
        bronze = User(service_number="B-BENCH", display_name="Bench Bronze", role="bronze", password_hash="x")
        now = utcnow()
        operation = Operation(name="Op Bench", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8),
                              status="live", exercise=True)
        session.add_all([bronze, operation])
        session.flush()
        session.add(Membership(operation_id=operation.id, user_id=bronze.id, role="bronze"))
    return bronze, operation


def _writers(bronze, operation, threads: int, seconds: float, gate) -> tuple[int, list[str]]:
    """`threads` writers in this process, each doing audited decisions back to back for `seconds`."""
    from app.core.db import session_scope
    from app.operations import service as operations_service
    from app.operations.access import operation_access
    from app.operations.schemas import DecisionIn

    done = [0] * threads
    failures: list[str] = []
    stop = threading.Event()

    def write(index: int) -> None:
        while not stop.is_set():
            try:
                with session_scope() as session:
                    access = operation_access(session, actor=bronze, operation_id=operation.id)
                    operations_service.record_decision(
                        session=session, access=access,
                        data=DecisionIn(decision=f"Writer {index} decision {done[index]}",
                                        rationale="benchmark: hold the cordon at the north gate"))
                done[index] += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported
                failures.append(repr(exc))
                return

    workers = [threading.Thread(target=write, args=(i,)) for i in range(threads)]
    gate.wait()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    return sum(done), failures


def _process_main(bronze, operation, threads, seconds, gate, results) -> None:
    from app.core import db as core_db

    core_db.reset_engine()  # a fresh pool in this process
    results.put(_writers(bronze, operation, threads, seconds, gate))


def _cpu() -> float:
    """CPU seconds of this process and its finished children: the app's cost, however busy the machine."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(engine_name: str, writers: int, seconds: float, processes: int) -> dict:
    """`writers` concurrent writers spread over `processes` processes (as `parley serve --workers N`
    spreads requests; one process per core avoids measuring only Python's global interpreter lock)."""
    from app.audit.service import verify_chain
    from app.core import db as core_db
    from app.core.db import session_scope

    with fresh_database(engine_name):
        bronze, operation = _arrange()
        processes = max(1, min(processes, writers))
        shares = [writers // processes + (1 if i < writers % processes else 0) for i in range(processes)]
        began = time.perf_counter()
        cpu_before = _cpu()
        if processes == 1:
            gate = threading.Barrier(1)
            total, failures = _writers(bronze, operation, writers, seconds, gate)
        else:
            context = multiprocessing.get_context("fork")
            core_db.reset_engine()
            gate, results = context.Barrier(processes), context.Queue()
            children = [context.Process(target=_process_main, args=(bronze, operation, share, seconds, gate, results))
                        for share in shares]
            for child in children:
                child.start()
            outcomes = [results.get() for _ in children]
            for child in children:
                child.join()
            total = sum(count for count, _ in outcomes)
            failures = [failure for _, found in outcomes for failure in found]
        elapsed = time.perf_counter() - began
        cpu = _cpu() - cpu_before
        with session_scope() as session:
            verdict = verify_chain(session)
        return {"engine": engine_name, "writers": writers, "processes": processes, "writes": total,
                "per_second": total / elapsed, "cpu_ms": cpu / max(total, 1) * 1000,
                "chain_ok": verdict.ok and verdict.head_seq == total,
                "failures": len(failures), "first_failure": failures[0] if failures else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--writers", default="1,8,32")
    parser.add_argument("--processes", default="1,2", help="spread the writers over this many processes")
    args = parser.parse_args()
    print(f"{'engine':<11} {'writers':>7} {'procs':>5} {'writes':>7} {'writes/s':>9} {'app CPU ms/write':>16} "
          f"{'chain':>6} {'failures':>8}")
    for engine_name in args.engines.split(","):
        for processes in (int(n) for n in args.processes.split(",")):
            for writers in (int(n) for n in args.writers.split(",")):
                if writers < processes:
                    continue
                result = run(engine_name, writers, args.seconds, processes)
                print(f"{result['engine']:<11} {result['writers']:>7} {result['processes']:>5} "
                      f"{result['writes']:>7} {result['per_second']:>9.0f} {result['cpu_ms']:>16.2f} "
                      f"{'intact' if result['chain_ok'] else 'BROKEN':>6} {result['failures']:>8} "
                      f"{result['first_failure']}", flush=True)
    print(f"machine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
