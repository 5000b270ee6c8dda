"""VAPID public key, push subscriptions (SSRF-safe endpoints, validated keys) and their end with the session."""

import base64
import os
import stat

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.core.config import Settings, get_settings
from app.notifications.models import PushSubscription
from app.notifications.vapid import b64url, b64url_decode
from tests.factories import auth_headers
from tests.notifications.conftest import subscribe

URL = "/api/v1/push/subscriptions"
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


def body(endpoint="https://fcm.googleapis.com/fcm/send/abc123", p256dh=P256DH, auth=AUTH, **extra):
    return {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}, **extra}


def count(db, model=PushSubscription) -> int:
    value = db.scalar(select(func.count()).select_from(model))
    db.rollback()
    return value


class TestVapidPublicKey:
    def test_anyone_gets_the_application_server_key(self, client, settings):
        response = client.get("/api/v1/push/vapid-public-key")
        assert response.status_code == 200
        key = b64url_decode(response.json()["public_key"])
        assert len(key) == 65 and key[0] == 4
        assert client.get("/api/v1/push/vapid-public-key").json() == response.json()  # stable

    def test_key_is_generated_into_the_data_dir_with_0600(self, client, settings):
        path = settings.data_dir / "vapid.key"
        assert path.exists()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    def test_production_refuses_plain_http_push(self):
        with pytest.raises(ValueError, match="PUSH_ALLOW_HTTP"):
            Settings(env="production", database_url="postgresql+psycopg://x/y", jwt_secret="s" * 40,
                     vapid_private_key="k", audit_signing_key="k", push_allow_http=True)


class TestSubscribe:
    def test_anonymous(self, client):
        assert client.post(URL, json=body()).status_code == 401

    def test_valid_google_endpoint_is_stored_for_user_and_session(self, client, world, db):
        response = client.post(URL, json=body(), headers=world.headers("officer"))
        assert response.status_code == 201, response.text
        assert response.json()["endpoint_host"] == "fcm.googleapis.com"
        row = db.scalar(select(PushSubscription))
        assert row.user_id == world["officer"].id and row.session_id is not None
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "push.subscribed"))
        # the endpoint is a capability URL: only its host goes in the audit log
        assert event.details["host"] == "fcm.googleapis.com" and "abc123" not in str(event.details)

    @pytest.mark.parametrize("endpoint", [
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGkP7x",
        "https://wns2-db5p.notify.windows.com/w/?token=BQYAAA",
    ])
    def test_other_browser_push_services_are_allowed(self, client, world, endpoint):
        assert client.post(URL, json=body(endpoint), headers=world.headers("officer")).status_code == 201

    @pytest.mark.parametrize("endpoint", [
        "https://evil.example.com/push",
        "https://fcm.googleapis.com.evil.example/x",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.1/push",
        "ftp://fcm.googleapis.com/x",
        "https://user:pw@fcm.googleapis.com/x",
        "https://fcm.googleapis.com/x#frag",
        "not a url",
        "https://fcm.googleapis.com:99999/x",
        "https://push.apple.com.evil/x",
    ])
    def test_endpoint_outside_the_allowed_push_services_is_refused(self, client, world, db, endpoint):
        response = client.post(URL, json=body(endpoint), headers=world.headers("officer"))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert count(db) == 0

    def test_plain_http_only_when_allowed(self, client, world, db, monkeypatch):
        monkeypatch.setenv("PARLEY_PUSH_ALLOW_HTTP", "false")
        get_settings.cache_clear()
        response = client.post(URL, json=body("http://127.0.0.1:8090/push/x"), headers=world.headers("officer"))
        assert response.status_code == 422 and "https" in response.json()["detail"]
        monkeypatch.setenv("PARLEY_PUSH_ALLOW_HTTP", "true")
        get_settings.cache_clear()
        response = client.post(URL, json=body("http://127.0.0.1:8090/push/x"), headers=world.headers("officer"))
        assert response.status_code == 201

    def test_extra_allowed_hosts_come_from_settings(self, client, world, monkeypatch):
        response = client.post(URL, json=body("https://push.internal.example/x"), headers=world.headers("officer"))
        assert response.status_code == 422
        monkeypatch.setenv("PARLEY_PUSH_ALLOWED_HOSTS", "push.internal.example")
        get_settings.cache_clear()
        response = client.post(URL, json=body("https://push.internal.example/x"), headers=world.headers("officer"))
        assert response.status_code == 201

    @pytest.mark.parametrize("keys", [
        {"p256dh": "not base64!", "auth": AUTH},
        {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": AUTH},  # not a point on P-256
        {"p256dh": P256DH[:-4], "auth": AUTH},
        {"p256dh": b64url(b"\x02" + b"\x01" * 32), "auth": AUTH},  # compressed point
        {"p256dh": P256DH, "auth": b64url(os.urandom(15))},
        {"p256dh": P256DH, "auth": b64url(os.urandom(17))},
        {"p256dh": P256DH, "auth": "%%%"},
        {"p256dh": P256DH},
    ])
    def test_bad_keys_are_refused(self, client, world, db, keys):
        response = client.post(URL, json={"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": keys},
                               headers=world.headers("officer"))
        assert response.status_code == 422, response.text
        assert count(db) == 0

    def test_expired_subscription_is_refused(self, client, world):
        response = client.post(URL, json=body(expirationTime=1000), headers=world.headers("officer"))
        assert response.status_code == 422

    def test_same_endpoint_again_replaces_the_row(self, client, world, db):
        client.post(URL, json=body(), headers=world.headers("officer"))
        response = client.post(URL, json=body(), headers=world.headers("officer2"))  # shared phone
        assert response.status_code == 201
        rows = db.scalars(select(PushSubscription)).all()
        assert [r.user_id for r in rows] == [world["officer2"].id]

    @hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(endpoint=st.one_of(st.text(max_size=300), st.from_regex(r"https?://[a-z0-9.:\[\]@-]{0,40}/[ -~]{0,40}")),
           p256dh=st.text(max_size=100), auth=st.text(max_size=40))
    def test_arbitrary_input_is_a_clear_4xx_never_a_500(self, client, world, endpoint, p256dh, auth):
        response = client.post(URL, json=body(endpoint, p256dh, auth), headers=world.headers("officer"))
        assert response.status_code in (201, 422), response.text


class TestUnsubscribe:
    def test_own_subscription_is_deleted_and_audited(self, client, world, db):
        client.post(URL, json=body(), headers=world.headers("officer"))
        response = client.request("DELETE", URL, json={"endpoint": body()["endpoint"]},
                                  headers=world.headers("officer"))
        assert response.status_code == 204
        assert count(db) == 0
        assert db.scalar(select(AuditEvent).where(AuditEvent.action == "push.unsubscribed")) is not None

    def test_someone_elses_subscription_is_not_found(self, client, world, db):
        client.post(URL, json=body(), headers=world.headers("officer"))
        response = client.request("DELETE", URL, json={"endpoint": body()["endpoint"]},
                                  headers=world.headers("officer2"))
        assert response.status_code == 404
        assert count(db) == 1


class TestSessionEnd:
    def test_logout_removes_that_sessions_subscriptions_only(self, client, world, push, db):
        phone, tablet = auth_headers(world["officer"]), auth_headers(world["officer"])
        subscribe(client, phone, push)
        kept = subscribe(client, tablet, push)
        assert client.post("/api/v1/auth/logout", headers=phone).status_code in (200, 204)
        rows = db.scalars(select(PushSubscription)).all()
        assert [r.endpoint for r in rows] == [kept["endpoint"]]

    def test_admin_revoke_and_disable_remove_all_of_a_users_subscriptions(self, client, world, push, db):
        subscribe(client, auth_headers(world["officer"]), push)
        subscribe(client, auth_headers(world["officer2"]), push)
        response = client.post(f"/api/v1/users/{world['officer'].id}/revoke-sessions", headers=world.headers("admin"))
        assert response.status_code in (200, 204), response.text
        assert [r.user_id for r in db.scalars(select(PushSubscription))] == [world["officer2"].id]
        db.rollback()
        response = client.patch(f"/api/v1/users/{world['officer2'].id}", json={"active": False},
                                headers=world.headers("admin"))
        assert response.status_code == 200, response.text
        assert count(db) == 0


def test_b64url_roundtrip():
    data = os.urandom(33)
    assert b64url_decode(b64url(data)) == data
    assert b64url(data) == base64.urlsafe_b64encode(data).decode().rstrip("=")
