"""What the dispatcher does with each push-service answer, and that a bad push service never blocks the API."""

import asyncio
import socket
import threading
import time
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.core.types import utcnow
from app.notifications.dispatcher import DispatcherOptions, drain_once
from app.notifications.models import PushDelivery, PushSubscription
from app.notifications.sender import parse_retry_after
from tests.notifications.conftest import FAST, drain, send, subscribe

SERIAL_1 = {"audience": {"kind": "group", "value": "Serial 1"}}


def deliveries(db) -> list[PushDelivery]:
    rows = db.scalars(select(PushDelivery).order_by(PushDelivery.created_at)).all()
    db.expunge_all()  # plain objects: reading them must not open a transaction (SQLite's write lock)
    db.rollback()
    return rows


def make_due(db) -> None:
    db.execute(update(PushDelivery).where(PushDelivery.status == "pending").values(next_attempt_at=utcnow()))
    db.commit()


class TestAnswers:
    def test_410_deletes_the_subscription_and_is_audited(self, client, world, push, settings, db):
        phone = subscribe(client, world.headers("officer"), push)
        push.answer(410, endpoint=phone["endpoint"])
        send(client, world, SERIAL_1)
        stats = drain(settings)
        assert stats.gone == 1
        [row] = deliveries(db)
        assert (row.status, row.status_code, row.subscription_id) == ("gone", 410, None)
        assert db.scalar(select(PushSubscription)) is None
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "push.subscription_expired"))
        assert event.details["user_id"] == str(world["officer"].id)

    def test_404_is_treated_like_410(self, client, world, push, settings, db):
        phone = subscribe(client, world.headers("officer"), push)
        push.answer(404, endpoint=phone["endpoint"])
        send(client, world, SERIAL_1)
        assert drain(settings).gone == 1

    def test_429_waits_for_retry_after_then_sends(self, client, world, push, settings, db):
        phone = subscribe(client, world.headers("officer"), push)
        push.answer(429, times=1, retry_after="30")
        send(client, world, SERIAL_1)
        started = utcnow()
        assert drain(settings).retried == 1
        [row] = deliveries(db)
        assert row.status == "pending" and row.status_code == 429
        assert (row.next_attempt_at - started).total_seconds() >= 29  # honoured, not the short backoff
        assert drain(settings).claimed == 0  # not due yet
        make_due(db)
        assert drain(settings).sent == 1
        assert len(push.inbox(phone["endpoint"])) == 1

    def test_500_retries_with_backoff_until_it_works(self, client, world, push, settings, db):
        phone = subscribe(client, world.headers("officer"), push)
        push.answer(500, times=2)
        send(client, world, SERIAL_1)
        for _ in range(20):
            drain(settings)
            if deliveries(db)[0].status != "pending":
                break
            time.sleep(0.1)
        [row] = deliveries(db)
        assert row.status == "sent" and row.attempts == 3
        assert len(push.inbox(phone["endpoint"])) == 1

    def test_5xx_until_the_ttl_runs_out_is_marked_failed(self, client, world, push, settings, db):
        subscribe(client, world.headers("officer"), push)
        push.answer(503)
        send(client, world, {**SERIAL_1, "ttl_seconds": 1})
        # the TTL and the short grace every message gets for its first attempts run out in a second
        db.execute(update(PushDelivery).values(expires_at=utcnow() + timedelta(seconds=1)))
        db.commit()
        deadline = time.monotonic() + 10
        while deliveries(db)[0].status == "pending" and time.monotonic() < deadline:
            drain(settings)
            time.sleep(0.1)
        [row] = deliveries(db)
        assert row.status == "failed" and "TTL" in row.error
        nid = row.notification_id
        counts = client.get(f"/api/v1/notifications/{nid}", headers=world.headers("bronze")).json()["counts"]
        assert counts["failed"] == 1 and counts["sent"] == 0

    def test_other_4xx_fail_without_retry(self, client, world, push, settings, db):
        subscribe(client, world.headers("officer"), push)
        push.answer(400)
        send(client, world, SERIAL_1)
        assert drain(settings).failed == 1
        assert deliveries(db)[0].attempts == 1

    def test_slow_push_service_times_out_and_is_retried(self, client, world, push, settings, db):
        subscribe(client, world.headers("officer"), push)
        push.delay = 1.5
        send(client, world, SERIAL_1)
        stats = drain(settings, replace(FAST, request_timeout=0.3))
        assert stats.retried == 1
        assert "timed out" in deliveries(db)[0].error
        push.delay = 0
        make_due(db)
        assert drain(settings).sent == 1

    def test_subscription_removed_before_sending_is_cancelled(self, client, world, push, settings, db):
        from tests.factories import auth_headers

        phone_headers = auth_headers(world["officer"])
        subscribe(client, phone_headers, push)
        send(client, world, SERIAL_1)
        client.post("/api/v1/auth/logout", headers=phone_headers)
        assert drain(settings).cancelled == 1
        assert deliveries(db)[0].status == "cancelled"


class GarbageServer:
    """Answers every connection with bytes that are not HTTP at all."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"\x00\xffNOT HTTP AT ALL\r\n\r\n" * 100)
            conn.close()


def test_garbage_answers_are_retried_never_crash(client, world, settings, db):
    garbage = GarbageServer()
    response = client.post("/api/v1/push/subscriptions", headers=world.headers("officer"), json={
        "endpoint": f"http://127.0.0.1:{garbage.port}/push/x",
        "keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                 "auth": "tBHItJI5svbpez7KI4CCXg"}})
    assert response.status_code == 201
    send(client, world, SERIAL_1)
    stats = drain(settings)
    assert stats.retried == 1
    assert deliveries(db)[0].error.startswith("network error")
    garbage.sock.close()


def test_a_hanging_push_service_never_blocks_the_api(client, world, push, settings):
    subscribe(client, world.headers("officer"), push)
    push.delay = 3
    send(client, world, SERIAL_1)
    done = threading.Event()

    def dispatch():
        asyncio.run(drain_once(settings, replace(FAST, request_timeout=2.5)))
        done.set()

    threading.Thread(target=dispatch, daemon=True).start()
    time.sleep(0.3)  # the dispatcher is now waiting on the push service
    started = time.monotonic()
    response = send(client, world, {"title": "Second message", **SERIAL_1})
    assert response.status_code == 201
    assert client.get(f"/api/v1/operations/{world.op.id}/notifications",
                      headers=world.headers("officer")).status_code == 200
    assert time.monotonic() - started < 1.5
    assert done.wait(15)


def test_retry_after_parsing():
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past: go now
    assert parse_retry_after("999999999") == 3600  # capped
    assert 55 <= parse_retry_after(time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))) <= 61


def test_background_task_delivers_without_being_asked(push, settings_env, monkeypatch, world):
    """The in-process dispatcher inside the app (as `parley serve` runs it)."""
    from fastapi.testclient import TestClient

    from app.core.config import get_settings
    from app.main import create_app

    monkeypatch.setenv("PARLEY_RUN_BACKGROUND", "true")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        phone = subscribe(client, world.headers("officer"), push)
        send(client, world, SERIAL_1)
        deadline = time.monotonic() + 15
        while not push.by_endpoint(phone["endpoint"]).messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(push.inbox(phone["endpoint"])) == 1


def test_options_defaults_are_sane():
    options = DispatcherOptions()
    assert options.concurrency >= 4 and options.lease_seconds > options.request_timeout * 2


def test_ttl_zero_is_still_sent_once_with_ttl_0(client, world, push, settings):
    phone = subscribe(client, world.headers("officer"), push)
    send(client, world, {**SERIAL_1, "ttl_seconds": 0})
    assert drain(settings).sent == 1
    assert push.headers_of(phone["endpoint"])[0]["ttl"] == "0"
