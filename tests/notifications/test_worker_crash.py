"""`parley worker` processes sharing a fan-out on PostgreSQL, one killed (SIGKILL) in the middle of it.

Nothing is lost: the killed worker's claims expire and the surviving worker sends those rows. A phone may
receive the message twice (the killed worker's requests in flight had reached the push service); the app
drops the duplicate by notification id. No subscription is skipped.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, insert, select

from app.auth.models import AuthSession
from app.core.config import get_settings
from app.core.db import session_scope
from app.notifications.models import PushDelivery, PushSubscription
from app.notifications.vapid import VapidSigner
from app.operations.models import Membership
from tests.dbutil import engine_name
from tests.factories import make_user
from tests.notifications.conftest import send

pytestmark = pytest.mark.skipif(engine_name() != "postgresql",
                                reason="parley worker processes share the outbox on PostgreSQL only")
OFFICERS, DEVICES = 60, 5  # 300 subscriptions


def _arrange(world, push) -> list[str]:
    key_id = VapidSigner.from_settings(get_settings()).key_id
    endpoints = []
    with session_scope() as session:
        for _ in range(OFFICERS):
            user = make_user("officer")
            session.add(Membership(operation_id=world.op.id, user_id=user.id, role="officer", group_name="Crowd"))
            auth_session = AuthSession(user_id=user.id, refresh_hash=uuid.uuid4().hex)
            session.add(auth_session)
            session.flush()
            rows = []
            for _ in range(DEVICES):
                sub = push.subscribe()
                endpoints.append(sub["endpoint"])
                rows.append({"id": uuid.uuid4(), "user_id": user.id, "session_id": auth_session.id,
                             "endpoint": sub["endpoint"], "p256dh": sub["keys"]["p256dh"],
                             "auth": sub["keys"]["auth"], "vapid_key_id": key_id,
                             "created_at": auth_session.created_at})
            session.execute(insert(PushSubscription), rows)
    return endpoints


def _worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--lease", "2", "--batch", "20", "--lanes", "3",
         "--concurrency", "4"], env=env, cwd=os.getcwd(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_killed_worker_loses_nothing_and_skips_no_subscription(client, world, push, settings_env, db):
    endpoints = _arrange(world, push)
    push.delay = 0.04  # a push service under load: the fan-out takes a few seconds
    nid = send(client, world, {"audience": {"kind": "group", "value": "Crowd"}, "ttl_seconds": 600}).json()["id"]
    env = {**os.environ, **settings_env}
    doomed, survivor = _worker(env), _worker(env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # kill it while it holds claims it has not finished
            in_hand = db.scalar(select(func.count()).select_from(PushDelivery).where(
                PushDelivery.status == "pending", PushDelivery.claimed_by.like(f"%:{doomed.pid}:%")))
            db.rollback()
            if in_hand and push.accepted >= 20:
                break
            time.sleep(0.01)
        assert in_hand and push.accepted < len(endpoints), "the fan-out finished before the kill: make it slower"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = db.scalar(select(func.count()).select_from(PushDelivery).where(PushDelivery.status == "pending"))
            db.rollback()
            if pending == 0:
                break
            time.sleep(0.2)
        statuses = Counter(db.scalars(select(PushDelivery.status)))
        reclaimed = db.scalar(select(func.count()).select_from(PushDelivery).where(PushDelivery.attempts > 1))
        db.rollback()
        assert statuses == {"sent": len(endpoints)}
        assert reclaimed > 0, "no claim of the killed worker was taken over: the crash did not hit mid fan-out"
        received = {endpoint: [m["id"] for m in push.inbox(endpoint)] for endpoint in endpoints}
        skipped = [e for e, ids in received.items() if nid not in ids]
        assert skipped == []
        assert all(set(ids) == {nid} for ids in received.values())
        duplicates = sum(len(ids) - 1 for ids in received.values())
        assert duplicates <= 3 * 20  # at most what the killed worker had claimed
        print(f"\n{len(endpoints)} subscriptions, all sent; {reclaimed} claims taken over after the kill, "
              f"{duplicates} duplicates on phones (dropped by id in the app)")
        survivor.send_signal(signal.SIGTERM)  # stops cleanly after the batch in hand
        assert survivor.wait(20) == 0
    finally:
        for process in (doomed, survivor):
            if process.poll() is None:
                process.kill()
                process.wait(10)
