"""Receipts from the app (Bearer) and from the service worker (receipt_token), ack deadlines, figures."""

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.core.types import utcnow
from app.notifications import service
from app.notifications.dispatcher import resend_due_once
from app.notifications.models import Notification
from tests.notifications.conftest import drain, send, subscribe


def receipt(client, nid, event, headers=None, token=None):
    body = {"event": event} | ({"receipt_token": token} if token else {})
    return client.post(f"/api/v1/notifications/{nid}/receipts", json=body, headers=headers or {})


def audit_actions(db, after: int = 0) -> list[str]:
    actions = [e.action for e in db.scalars(select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq))]
    db.rollback()
    return actions


def head_seq(db) -> int:
    seq = db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    db.rollback()
    return seq


class TestReceipts:
    def test_acknowledged_implies_opened_and_delivered_and_is_audited_once(self, client, world, db):
        nid = send(client, world, {"require_ack": True}).json()["id"]
        seq = head_seq(db)
        response = receipt(client, nid, "acknowledged", world.headers("officer"))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["delivered_at"] and body["opened_at"] and body["acknowledged_at"]
        assert audit_actions(db, seq) == ["notification.receipt"]
        again = receipt(client, nid, "delivered", world.headers("officer"))
        assert again.json() == body  # receipts only move forward; a repeat changes nothing
        assert audit_actions(db, seq) == ["notification.receipt"]

    def test_receipts_in_order_each_recorded(self, client, world, db):
        nid = send(client, world, {}).json()["id"]
        seq = head_seq(db)
        for event in ("delivered", "opened"):
            assert receipt(client, nid, event, world.headers("officer")).status_code == 200
        detail = client.get(f"/api/v1/notifications/{nid}", headers=world.headers("bronze")).json()
        assert detail["counts"]["delivered"] == 1 and detail["counts"]["opened"] == 1
        assert detail["counts"]["acknowledged"] == 0
        assert audit_actions(db, seq) == ["notification.receipt", "notification.receipt"]

    def test_service_worker_reports_with_the_token_from_the_push_payload(self, client, world, push, settings):
        phone = subscribe(client, world.headers("officer"), push)
        nid = send(client, world, {"require_ack": True, "audience": {"kind": "group", "value": "Serial 1"}}
                   ).json()["id"]
        drain(settings)
        [message] = push.inbox(phone["endpoint"])
        response = receipt(client, nid, "delivered", token=message["receipt_token"])
        assert response.status_code == 200, response.text
        assert response.json()["user_id"] == str(world["officer"].id)
        assert receipt(client, nid, "acknowledged", token=message["receipt_token"]).status_code == 200

    def test_bad_or_foreign_tokens_are_refused(self, client, world, push, settings, db):
        phone = subscribe(client, world.headers("officer"), push)
        first = send(client, world, {"audience": {"kind": "group", "value": "Serial 1"}}).json()["id"]
        second = send(client, world, {"audience": {"kind": "group", "value": "Serial 1"}}).json()["id"]
        drain(settings)
        token_for_first = next(m for m in push.inbox(phone["endpoint"]) if m["id"] == first)["receipt_token"]
        seq = head_seq(db)
        assert receipt(client, second, "delivered", token=token_for_first).status_code == 401
        assert receipt(client, first, "delivered", token=token_for_first[:-2] + "AA").status_code == 401
        assert receipt(client, first, "delivered", token=f"{world['officer2'].id.hex}.{'A' * 43}").status_code == 401
        assert receipt(client, first, "delivered", token="garbage-garbage").status_code == 401
        assert receipt(client, first, "delivered").status_code == 401
        assert audit_actions(db, seq) == []

    def test_not_a_recipient(self, client, world):
        nid = send(client, world, {"audience": {"kind": "group", "value": "Serial 1"}}).json()["id"]
        assert receipt(client, nid, "opened", world.headers("officer2")).status_code == 404
        assert receipt(client, nid, "opened", world.headers("other_bronze")).status_code == 404
        assert receipt(client, str(uuid.uuid4()), "opened", world.headers("officer")).status_code == 404

    def test_unknown_event(self, client, world):
        nid = send(client, world, {}).json()["id"]
        assert receipt(client, nid, "read", world.headers("officer")).status_code == 422


class TestAckDeadline:
    def test_resent_once_to_those_who_have_not_acknowledged_and_listed(self, client, world, push, settings, db):
        phone1 = subscribe(client, world.headers("officer"), push)
        phone2 = subscribe(client, world.headers("officer2"), push)
        nid = send(client, world, {"require_ack": True, "ack_within_seconds": 60, "ttl_seconds": 900,
                                   "audience": {"kind": "role", "value": "officer"}}).json()["id"]
        drain(settings)
        receipt(client, nid, "acknowledged", world.headers("officer"))
        assert resend_due_once() == []  # not due yet
        db.execute(update(Notification).values(ack_deadline_at=utcnow() - timedelta(seconds=1)))
        db.commit()
        seq = head_seq(db)
        assert resend_due_once() == [uuid.UUID(nid)]
        assert resend_due_once() == []  # once only
        assert audit_actions(db, seq) == ["notification.resent"]
        drain(settings)
        assert [m["round"] for m in push.inbox(phone2["endpoint"])] == [0, 1]
        assert [m["round"] for m in push.inbox(phone1["endpoint"])] == [0]
        detail = client.get(f"/api/v1/notifications/{nid}", headers=world.headers("bronze")).json()
        assert detail["not_acknowledged"] == [str(world["officer2"].id)]
        assert detail["resent_to"] == [str(world["officer2"].id)]
        assert detail["resent_at"] is not None


class TestFigures:
    def test_notification_figures_for_the_debrief(self, client, world, db):
        empty = service.notification_figures(db, operation_id=world.op.id)
        assert empty == {"sent": 0, "targets": 0, "delivery_rate": None, "open_rate": None, "ack_rate": None,
                         "time_to_ack_s": {"median": None, "p90": None}}
        db.rollback()
        nid = send(client, world, {"require_ack": True, "audience": {"kind": "role", "value": "officer"}}).json()["id"]
        send(client, world, {"audience": {"kind": "group", "value": "Serial 1"}})
        receipt(client, nid, "acknowledged", world.headers("officer"))
        receipt(client, nid, "delivered", world.headers("officer2"))
        figures = service.notification_figures(db, operation_id=world.op.id)
        assert figures["sent"] == 2 and figures["targets"] == 3
        assert figures["delivery_rate"] == round(2 / 3, 4)
        assert figures["open_rate"] == round(1 / 3, 4)
        assert figures["ack_rate"] == 0.5
        assert figures["time_to_ack_s"]["median"] is not None and figures["time_to_ack_s"]["median"] >= 0


class TestSendToUsers:
    def test_other_domains_send_in_their_own_transaction(self, client, world, push, settings, db):
        phone = subscribe(client, world.headers("officer"), push)
        notification = service.send_to_users(
            db, operation_id=world.op.id, sender=world["bronze"],
            user_ids=[world["officer"].id, world["outsider"].id], title="Rumour ruled false",
            body="The mosque rumour is false. Use reply R3.", kind="rumour_ruling",
            ref={"escalation_id": "e1", "counter_template_id": "t3"})
        db.commit()
        drain(settings)
        [message] = push.inbox(phone["endpoint"])
        assert message["kind"] == "rumour_ruling" and message["urgency"] == "high"
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "notification.sent"))
        assert event.details["left_out"] == 1 and event.details["ref"]["escalation_id"] == "e1"
        assert event.target_id == str(notification.id)


class TestLiveEvents:
    def test_created_goes_to_recipients_and_receipts_with_counts_to_command(self, client, world, db):
        from app.live.models import LiveEvent

        nid = send(client, world, {"require_ack": True, "audience": {"kind": "group", "value": "Serial 1"}}
                   ).json()["id"]
        receipt(client, nid, "acknowledged", world.headers("officer"))
        events = {e.type: e for e in db.scalars(select(LiveEvent).where(LiveEvent.operation_id == world.op.id))}
        created, ack = events["notification.created"], events["notification.receipt"]
        assert created.data["id"] == nid
        assert created.audience["kind"] == "users" and str(world["officer"].id) in created.audience["user_ids"]
        assert ack.audience["kind"] == "command"
        assert ack.data["event"] == "acknowledged" and ack.data["counts"]["acknowledged"] == 1
