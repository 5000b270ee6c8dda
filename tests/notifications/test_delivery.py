"""End to end through the local push service: what a phone receives, decrypted with its own key."""

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.notifications.models import PushDelivery
from app.notifications.vapid import VapidSigner
from tests.notifications.conftest import drain, send, subscribe


class TestFanOut:
    def test_every_subscription_receives_the_decryptable_message(self, client, world, push, settings, db):
        officer_phone = subscribe(client, world.headers("officer"), push)
        officer_tablet = subscribe(client, world.headers("officer"), push)
        officer2_phone = subscribe(client, world.headers("officer2"), push)
        response = send(client, world, {"urgency": "high", "ttl_seconds": 600, "topic": "route-change",
                                        "audience": {"kind": "role", "value": "officer"}})
        assert response.status_code == 201, response.text
        notification = response.json()
        assert notification["counts"]["targets"] == 2
        assert notification["counts"]["pending"] == 2

        stats = drain(settings)
        assert stats.sent == 3

        for phone, who in ((officer_phone, "officer"), (officer_tablet, "officer"), (officer2_phone, "officer2")):
            [message] = push.inbox(phone["endpoint"])
            assert message["type"] == "notification"
            assert message["id"] == notification["id"]
            assert message["operation_id"] == str(world.op.id)
            assert message["title"] == "Move to Corporation Street"
            assert message["body"] == "Serial 1 and 2: move now."
            assert message["urgency"] == "high"
            assert message["require_ack"] is False
            assert message["receipt_token"].startswith(world[who].id.hex)
            assert message["web_push"] == 8030
            assert message["notification"]["title"] == "Move to Corporation Street"
            assert message["notification"]["navigate"].startswith(settings.public_url)
            assert message["notification"]["tag"] == "route-change"
            [headers] = push.headers_of(phone["endpoint"])
            assert headers["urgency"] == "high"
            assert headers["topic"] == "route-change"
            assert headers["content-encoding"] == "aes128gcm"
            assert 590 <= int(headers["ttl"]) <= 600

        detail = client.get(f"/api/v1/notifications/{notification['id']}", headers=world.headers("bronze")).json()
        assert detail["counts"] | {} == {"targets": 2, "sent": 2, "failed": 0, "pending": 0, "no_subscription": 0,
                                         "delivered": 0, "opened": 0, "acknowledged": 0}

    def test_vapid_token_is_signed_once_per_origin_and_names_the_port(self, client, world, push, settings):
        for _ in range(3):
            subscribe(client, world.headers("officer"), push)
        send(client, world, {})
        before = push.jwt_verifications
        drain(settings)
        assert push.rejected == []
        # one JWT for the one origin (the push service verified a single token for three messages)
        assert push.jwt_verifications - before <= 1
        signer = VapidSigner.from_settings(settings)
        header = signer.authorization(push.origin + "/push/x")
        assert header.startswith("vapid t=") and f"k={signer.public_key_b64}" in header
        assert push.origin.rsplit(":", 1)[1].isdigit()  # aud carried the non-default port, or it was refused

    def test_recipient_without_subscription_still_gets_the_inbox_entry(self, client, world, push, settings):
        response = send(client, world, {"audience": {"kind": "users", "value": [str(world["officer2"].id)]}})
        assert response.status_code == 201
        assert response.json()["counts"]["no_subscription"] == 1
        inbox = client.get(f"/api/v1/operations/{world.op.id}/notifications", headers=world.headers("officer2"))
        assert [n["title"] for n in inbox.json()] == ["Move to Corporation Street"]
        assert inbox.json()[0]["receipt"] == {"delivered_at": None, "opened_at": None, "acknowledged_at": None}

    def test_send_writes_one_audit_event_and_outbox_rows(self, client, world, push, settings, db):
        subscribe(client, world.headers("officer"), push)
        before = db.scalar(select(func.count()).select_from(AuditEvent))
        db.rollback()  # SQLite: every transaction takes the write lock (BEGIN IMMEDIATE); let go before the API
        response = send(client, world, {})
        assert response.status_code == 201
        events = db.scalars(select(AuditEvent).where(AuditEvent.seq > before)).all()
        assert [e.action for e in events] == ["notification.sent"]
        assert events[0].details["body"] == "Serial 1 and 2: move now."
        assert events[0].details["targets"] == 4  # everyone in the operation but the sender
        assert db.scalar(select(func.count()).select_from(PushDelivery)) == 1
