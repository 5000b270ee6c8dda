"""How long the debrief of a large operation takes to compute.

Builds, in a fresh database, an operation with 10,000 officers, 5,000 rumour reports (in ~1,500 rumour
groups), 200 notifications and 50,000 template uses (bulk inserts, not the services: this measures the
debrief, not the write path), then times the debrief as the endpoint computes it.

    .venv/bin/python bench/debrief.py                       # PostgreSQL at 127.0.0.1:5432 (a new database)
    .venv/bin/python bench/debrief.py --url sqlite:////tmp/debrief-bench.db

Notifications: `--whole-op` of the 200 go to every officer (10,000 inbox rows each), the rest to one serial
of 100 officers, as a large operation's messages mostly do. `--whole-op 200` is the worst case (2,000,000
inbox rows).
"""

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_SECONDS = 2.0
BATCH = 5_000


def _new_database(url: str) -> str:
    if not url.startswith("postgresql"):
        return url
    base = make_url(url)
    name = f"parley_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        target = make_url(url)
        admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        admin.dispose()


def _insert(connection, model, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        connection.execute(sa.insert(model.__table__), rows[start:start + BATCH])


def build_operation(engine, *, officers: int, reports: int, notifications: int, uses: int, whole_op: int,
                    seed: int = 7) -> uuid.UUID:
    from app.auth.models import User
    from app.debrief.models import Appraisal, Commendation
    from app.escalations.models import Escalation, EscalationGroup
    from app.notifications.models import Notification, NotificationRecipient
    from app.operations.models import BriefingAck, Decision, Membership, Operation, OperationDocument
    from app.templates.models import Template, TemplateUse, TemplateVersion

    rng = random.Random(seed)
    t0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    hours = 8
    at = lambda: t0 + timedelta(seconds=rng.uniform(0, hours * 3600))  # noqa: E731
    op_id = uuid.uuid4()
    gold, bronze = uuid.uuid4(), uuid.uuid4()
    officer_ids = [uuid.uuid4() for _ in range(officers)]
    with engine.begin() as connection:
        users = [{"id": gold, "service_number": "G1", "display_name": "Gold", "role": "gold"},
                 {"id": bronze, "service_number": "B1", "display_name": "Bronze", "role": "bronze"}]
        users += [{"id": uid, "service_number": f"O{i:06d}", "display_name": f"PC {i}", "role": "officer"}
                  for i, uid in enumerate(officer_ids)]
        _insert(connection, User, [{**u, "password_hash": "!", "active": True, "created_at": t0, "updated_at": t0}
                                   for u in users])
        _insert(connection, Operation, [{
            "id": op_id, "name": "Op Benchmark", "starts_at": t0, "ends_at": t0 + timedelta(hours=hours),
            "status": "closed", "exercise": False, "created_by": gold, "created_at": t0 - timedelta(days=2),
            "updated_at": t0, "went_live_at": t0, "closed_at": t0 + timedelta(hours=hours)}])
        members = [{"user_id": gold, "role": "gold", "group_name": None},
                   {"user_id": bronze, "role": "bronze", "group_name": None}]
        members += [{"user_id": uid, "role": "officer", "group_name": f"Serial {i // 100}"}
                    for i, uid in enumerate(officer_ids)]
        _insert(connection, Membership, [{**m, "id": uuid.uuid4(), "operation_id": op_id, "added_at": t0}
                                         for m in members])
        for kind, author in (("strategy", gold), ("briefing", bronze)):
            _insert(connection, OperationDocument, [{
                "id": uuid.uuid4(), "operation_id": op_id, "kind": kind, "version": 1, "text": kind,
                "engagement": {}, "restrictions": [], "rationale_decision_id": None, "author_id": author,
                "created_at": t0 - timedelta(days=1)}])
        _insert(connection, BriefingAck, [{
            "id": uuid.uuid4(), "operation_id": op_id, "user_id": uid, "strategy_version": 1,
            "briefing_version": 1, "at": t0 - timedelta(minutes=rng.randint(1, 600))}
            for uid in officer_ids if rng.random() < 0.9])
        _insert(connection, Decision, [{
            "id": uuid.uuid4(), "operation_id": op_id, "decision": f"Decision {i}", "rationale": "Because.",
            "author_id": bronze, "created_at": at()} for i in range(40)])

        templates = []
        for i in range(20):
            template_id, version_id = uuid.uuid4(), uuid.uuid4()
            templates.append((template_id, version_id))
            _insert(connection, Template, [{
                "id": template_id, "operation_id": None, "translation_of": None, "language": "en", "direction": "ltr",
                "status": "approved", "author_id": gold, "live_version_id": version_id, "imported": False,
                "created_at": t0, "updated_at": t0, "retired_at": None}])
            _insert(connection, TemplateVersion, [{
                "id": version_id, "template_id": template_id, "number": 1, "title": f"Template {i}",
                "body": "Text.", "slots": [], "category": ["safety", "reassurance", "information",
                                                         "rumour_rebuttal", "road_closures"][i % 5],
                "channel": "social_reply", "tags": [], "status": "approved", "author_id": gold, "created_at": t0}])
        use_rows = []
        for i in range(uses):
            template_id, version_id = rng.choice(templates)
            use_rows.append({
                "id": uuid.uuid4(), "operation_id": op_id, "user_id": rng.choice(officer_ids),
                "template_id": template_id, "version_id": version_id,
                "channel": rng.choice(["social_reply", "in_person", "loudhailer"]), "text": "Text.",
                "slot_values": {}, "in_reply_to": None, "client_id": f"c{i}", "group_name": None,
                "created_at": at()})
        _insert(connection, TemplateUse, use_rows)

        categories = ["violence", "disorder", "police_action", "community_tension", "transport", "other"]
        groups, report_rows = [], []
        while len(report_rows) < reports:
            first = at()
            size = min(rng.choice([1, 1, 1, 2, 3, 5, 8]), reports - len(report_rows))
            group_id = uuid.uuid4()
            ack = first + timedelta(seconds=rng.uniform(20, 900)) if rng.random() < 0.9 else None
            resolved = ack + timedelta(seconds=rng.uniform(60, 7200)) if ack and rng.random() < 0.85 else None
            category = rng.choice(categories)
            groups.append({
                "id": group_id, "operation_id": op_id, "status": "resolved" if resolved else "new",
                "outcome": rng.choice(["false", "true", "unverified", "duplicate"]) if resolved else None,
                "category": category, "size": size, "first_reported_at": first, "latest_reported_at": first,
                "acknowledged_at": ack, "resolved_at": resolved, "ruling_note": "Ruled." if resolved else None,
                "created_at": first, "updated_at": first})
            for _ in range(size):
                reported = first + timedelta(seconds=rng.uniform(0, 300))
                report_rows.append({
                    "id": uuid.uuid4(), "operation_id": op_id, "client_id": uuid.uuid4().hex,
                    "reporter_id": rng.choice(officer_ids), "group_id": group_id, "summary": "Rumour text",
                    "category": category, "reported_at": reported, "created_at": reported, "updated_at": reported,
                    "request_hash": "0" * 64})
        _insert(connection, EscalationGroup, groups)
        _insert(connection, Escalation, report_rows)

        for n in range(notifications):
            notification_id, sent = uuid.uuid4(), at()
            audience = officer_ids if n < whole_op else rng.sample(officer_ids, 100)
            require_ack = n % 2 == 0
            _insert(connection, Notification, [{
                "id": notification_id, "operation_id": op_id, "sender_id": bronze, "kind": "message",
                "title": f"Message {n}", "body": "Body.", "urgency": "normal", "ttl_seconds": 3600,
                "sensitive": False, "audience": {"kind": "operation"}, "require_ack": require_ack,
                "expires_at": sent + timedelta(hours=1), "created_at": sent}])
            inbox = []
            for uid in audience:
                delivered = rng.random() < 0.95
                acked = require_ack and delivered and rng.random() < 0.8
                inbox.append({
                    "id": uuid.uuid4(), "notification_id": notification_id, "user_id": uid,
                    "delivered_at": sent + timedelta(seconds=5) if delivered else None,
                    "opened_at": sent + timedelta(seconds=30) if delivered and rng.random() < 0.7 else None,
                    "acknowledged_at": sent + timedelta(seconds=rng.uniform(10, 900)) if acked else None})
            _insert(connection, NotificationRecipient, inbox)

        _insert(connection, Commendation, [{
            "id": uuid.uuid4(), "operation_id": op_id, "target_type": "template_use", "target_id": row["id"],
            "note": "Well done.", "author_id": bronze, "created_at": row["created_at"]} for row in use_rows[:50]])
        _insert(connection, Appraisal, [{
            "id": uuid.uuid4(), "operation_id": op_id, "kind": rng.choice(["worked", "didnt_work", "change"]),
            "text": "Entry.", "anonymous": i % 3 == 0, "author_id": None if i % 3 == 0 else rng.choice(officer_ids),
            "created_at": at()} for i in range(200)])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
    return op_id


def time_debrief(engine, op_id: uuid.UUID, runs: int) -> list[float]:
    from sqlalchemy.orm import sessionmaker
    from sqlmodel import Session, select

    from app.auth.models import User
    from app.debrief import service
    from app.operations.access import operation_access

    factory = sessionmaker(bind=engine, class_=Session, expire_on_commit=False)
    timings = []
    for _ in range(runs):
        with factory() as session:
            gold = session.scalar(select(User).where(User.service_number == "G1"))
            started = time.perf_counter()
            access = operation_access(session, actor=gold, operation_id=op_id)
            debrief = service.build(session=session, access=access)
            debrief.model_dump_json()  # what the endpoint sends
            timings.append(time.perf_counter() - started)
            session.rollback()
    with factory() as session:
        _breakdown(session, op_id)
    print(f"  reports {debrief.rumours.reports}, groups {debrief.rumours.groups}, "
          f"messages {debrief.notifications.sent} "
          f"({debrief.notifications.targets} inbox rows), template uses {debrief.templates.uses}, "
          f"members {debrief.briefing.members}, timeline {len(debrief.timeline)} entries")
    return timings


def _breakdown(session, op_id: uuid.UUID) -> None:
    """Each part of the debrief on its own, to see where the time goes (one run each)."""
    from app.debrief import charts
    from app.debrief import timeline as debrief_timeline
    from app.escalations import service as escalation_service
    from app.notifications import service as notification_service
    from app.operations import service as operation_service
    from app.operations.models import Operation
    from app.templates import service as template_service

    operation = session.get(Operation, op_id)
    parts = {
        "rumour figures (escalations)": lambda: escalation_service.escalation_figures(session, operation_id=op_id),
        "message figures (notifications)": lambda: notification_service.notification_figures(
            session, operation_id=op_id),
        "template figures (templates)": lambda: template_service.usage_figures(session, operation_id=op_id),
        "briefing figures": lambda: operation_service.briefing_figures(session, operation=operation),
        "timeline": lambda: debrief_timeline.timeline(session, operation,
                                                      debrief_timeline._live_groups(session, op_id)),
        "activity + charts": lambda: charts.activity(debrief_timeline.activity(session, operation)),
    }
    for name, part in parts.items():
        started = time.perf_counter()
        part()
        print(f"    {name:<34} {time.perf_counter() - started:.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("PARLEY_BENCH_DATABASE_URL",
                                                        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--officers", type=int, default=10_000)
    parser.add_argument("--reports", type=int, default=5_000)
    parser.add_argument("--notifications", type=int, default=200)
    parser.add_argument("--uses", type=int, default=50_000)
    parser.add_argument("--whole-op", type=int, default=20, help="notifications sent to every officer")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    args = parser.parse_args()

    os.environ.setdefault("PARLEY_ENV", "test")
    os.environ.setdefault("PARLEY_DATA_DIR", "/tmp/parley-bench")
    from app.core.db import make_engine
    from app.core.migrations import upgrade

    url = _new_database(args.url)
    try:
        upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        op_id = build_operation(engine, officers=args.officers, reports=args.reports,
                                notifications=args.notifications, uses=args.uses, whole_op=args.whole_op)
        print(f"{engine.dialect.name}: built the operation in {time.perf_counter() - started:.1f} s")
        timings = time_debrief(engine, op_id, args.runs)
        engine.dispose()
    finally:
        if not args.keep:
            _drop_database(url)
    best, median = min(timings), statistics.median(timings)
    print(f"debrief (build + JSON): best {best:.3f} s, median {median:.3f} s over {len(timings)} runs "
          f"({', '.join(f'{t:.3f}' for t in timings)}); goal < {GOAL_SECONDS:.0f} s: "
          f"{'met' if median < GOAL_SECONDS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
