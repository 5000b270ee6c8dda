import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import AuthSession
from app.core.db import session_scope
from app.core.types import utcnow
from tests.factories import PASSWORD, make_user
from tests.helpers import assert_problem, audit_actions

LOGIN = "/api/v1/auth/login"


def login(client, user, password=PASSWORD, **extra):
    return client.post(LOGIN, json={"service_number": user.service_number, "password": password, **extra})


class TestLogin:
    def test_valid_login_returns_tokens_and_user(self, client):
        user = make_user("bronze")
        response = login(client, user, device_name="Pixel 7")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
        assert body["user"]["service_number"] == user.service_number and body["user"]["role"] == "bronze"
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200 and me.json()["id"] == str(user.id)
        assert audit_actions("auth.login") == ["auth.login"]

    def test_wrong_password_and_unknown_account_answer_the_same(self, client):
        user = make_user()
        wrong = login(client, user, password="not-the-password")
        unknown = client.post(LOGIN, json={"service_number": "NOBODY1", "password": "whatever-pass"})
        assert assert_problem(wrong, 401)["detail"] == assert_problem(unknown, 401)["detail"]
        assert audit_actions("auth.login_failed") == ["auth.login_failed", "auth.login_failed"]

    def test_unknown_account_takes_about_as_long_as_a_wrong_password(self, client):
        user = make_user()
        login(client, user, password="warm-up-attempt")

        def timed(payload):
            started = time.perf_counter()
            client.post(LOGIN, json=payload)
            return time.perf_counter() - started

        wrong = min(timed({"service_number": user.service_number, "password": "x" * 12}) for _ in range(2))
        unknown = min(timed({"service_number": "NOBODY2", "password": "x" * 12}) for _ in range(2))
        # both verify an Argon2 hash; an early return for unknown accounts would be many times faster
        assert unknown > wrong / 3

    def test_disabled_user_cannot_log_in(self, client):
        user = make_user(active=False)
        assert_problem(login(client, user), 401)

    def test_repeated_failures_are_throttled_then_refused_with_retry_after(self, client, monkeypatch):
        monkeypatch.setenv("PARLEY_LOGIN_BLOCK_AFTER", "4")
        monkeypatch.setenv("PARLEY_LOGIN_DELAY_AFTER", "2")
        monkeypatch.setenv("PARLEY_LOGIN_MAX_DELAY_SECONDS", "0.3")
        from app.core.config import get_settings

        get_settings.cache_clear()
        user = make_user()
        for _ in range(4):
            assert login(client, user, password="wrong-password").status_code == 401
        refused = login(client, user)  # even the right password waits out the block
        assert_problem(refused, 429)
        assert int(refused.headers["retry-after"]) > 0
        assert "auth.login_throttled" in audit_actions()

    def test_successful_login_clears_the_account_failures(self, client, monkeypatch):
        monkeypatch.setenv("PARLEY_LOGIN_BLOCK_AFTER", "3")
        from app.core.config import get_settings

        get_settings.cache_clear()
        user = make_user()
        for _ in range(2):
            login(client, user, password="wrong-password")
        assert login(client, user).status_code == 200
        for _ in range(2):
            login(client, user, password="wrong-password")
        assert login(client, user).status_code == 200

    @pytest.mark.parametrize("payload", [
        {}, {"service_number": "A1"}, {"service_number": 5, "password": "x"}, {"service_number": "", "password": "x"},
        {"service_number": "A1", "password": "x", "extra": 1},
    ])
    def test_malformed_bodies_get_422(self, client, payload):
        body = assert_problem(client.post(LOGIN, json=payload), 422)
        assert body["errors"]

    def test_malformed_json_gets_422(self, client):
        response = client.post(LOGIN, content=b'{"service_number": ', headers={"content-type": "application/json"})
        assert_problem(response, 422)


class TestRefresh:
    def test_refresh_rotates_and_spends_the_old_token(self, client):
        user = make_user()
        first = login(client, user).json()
        second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200, second.text
        assert second.json()["refresh_token"] != first["refresh_token"]
        headers = {"Authorization": f"Bearer {second.json()['access_token']}"}
        assert client.get("/api/v1/me", headers=headers).status_code == 200

    def test_reusing_a_spent_refresh_token_ends_the_whole_session(self, client):
        user = make_user()
        first = login(client, user).json()
        second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
        reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert_problem(reuse, 401)
        # the thief's replay also cuts off the legitimate holder of the newer tokens
        assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401)
        headers = {"Authorization": f"Bearer {second['access_token']}"}
        assert_problem(client.get("/api/v1/me", headers=headers), 401)
        assert "auth.refresh_reused" in audit_actions()

    @pytest.mark.parametrize("token", ["not-a-token-at-all", "00000000-0000-0000-0000-000000000000.abcdef"])
    def test_unknown_refresh_tokens_are_refused(self, client, token):
        assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": token}), 401)


class TestLogout:
    def test_logout_ends_the_session_for_its_access_token_at_once(self, client):
        user = make_user()
        tokens = login(client, user).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
        assert_problem(client.get("/api/v1/me", headers=headers), 401)
        assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
        assert audit_actions("auth.logout") == ["auth.logout"]

    def test_anonymous_logout_is_401(self, client):
        assert_problem(client.post("/api/v1/auth/logout"), 401)


class TestIdleSessions:
    @staticmethod
    def signed_in_and_last_seen(client, hours_ago: float) -> tuple[dict, object]:
        """(headers, user) of a session last used `hours_ago` hours ago."""
        user = make_user()
        tokens = login(client, user).json()
        with session_scope() as session:
            auth_session = session.scalar(select(AuthSession).where(AuthSession.user_id == user.id))
            auth_session.last_seen_at = utcnow() - timedelta(hours=hours_ago)
        return {"Authorization": f"Bearer {tokens['access_token']}"}, user

    def test_a_session_idle_longer_than_the_limit_is_refused(self, client):
        headers, _ = self.signed_in_and_last_seen(client, 13)
        assert "without use" in assert_problem(client.get("/api/v1/me", headers=headers), 401)["detail"]

    def test_use_keeps_a_session_alive(self, client):
        """Each use (at most once a minute) moves last_seen_at, so a phone in use is never signed out idle."""
        headers, user = self.signed_in_and_last_seen(client, 11)
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        with session_scope() as session:
            seen = session.scalar(select(AuthSession.last_seen_at).where(AuthSession.user_id == user.id))
        assert utcnow() - seen < timedelta(minutes=1)


class TestUsers:
    def test_admin_creates_lists_and_updates_users(self, client, world):
        admin = world.headers("admin")
        created = client.post("/api/v1/users", headers=admin, json={
            "service_number": "PC4242", "display_name": "PC New", "role": "officer", "password": "a-long-password"})
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        listed = client.get("/api/v1/users", headers=admin, params={"q": "pc4242"}).json()
        assert [u["id"] for u in listed] == [user_id]
        patched = client.patch(f"/api/v1/users/{user_id}", headers=admin, json={"display_name": "PC Renamed"})
        assert patched.json()["display_name"] == "PC Renamed"
        assert client.post(LOGIN, json={"service_number": "PC4242", "password": "a-long-password"}).status_code == 200
        assert audit_actions("user.created") == ["user.created"]
        assert audit_actions("user.updated") == ["user.updated"]

    def test_duplicate_service_number_is_409(self, client, world):
        body = {"service_number": world["officer"].service_number, "display_name": "X", "role": "officer",
                "password": "a-long-password"}
        assert_problem(client.post("/api/v1/users", headers=world.headers("admin"), json=body), 409)

    @pytest.mark.parametrize("role", ["officer", "bronze", "gold", "comms", "auditor"])
    def test_only_admin_manages_users(self, client, world, role):
        headers = world.headers(role)
        assert_problem(client.get("/api/v1/users", headers=headers), 403)
        body = {"service_number": "PC1", "display_name": "X", "role": "officer", "password": "a-long-password"}
        assert_problem(client.post("/api/v1/users", headers=headers, json=body), 403)

    @pytest.mark.parametrize("body", [
        {"service_number": "PC 1", "display_name": "X", "role": "officer", "password": "a-long-password"},
        {"service_number": "PC1", "display_name": "X", "role": "chief", "password": "a-long-password"},
        {"service_number": "PC1", "display_name": "X", "role": "officer", "password": "short"},
    ])
    def test_invalid_user_bodies_are_422_and_create_nothing(self, client, world, body):
        assert_problem(client.post("/api/v1/users", headers=world.headers("admin"), json=body), 422)
        assert audit_actions("user.created") == []

    def test_disabling_a_user_cuts_off_their_sessions_at_once(self, client, world):
        officer_headers = world.headers("officer")
        assert client.get("/api/v1/me", headers=officer_headers).status_code == 200
        response = client.patch(f"/api/v1/users/{world['officer'].id}", headers=world.headers("admin"),
                                json={"active": False})
        assert response.status_code == 200 and response.json()["active"] is False
        assert_problem(client.get("/api/v1/me", headers=officer_headers), 401)

    def test_revoke_sessions_cuts_off_a_lost_phone(self, client, world):
        officer_headers = world.headers("officer")
        response = client.post(f"/api/v1/users/{world['officer'].id}/revoke-sessions", headers=world.headers("admin"))
        assert response.status_code == 200 and response.json()["revoked_sessions"] == 1
        assert_problem(client.get("/api/v1/me", headers=officer_headers), 401)
        assert audit_actions("user.sessions_revoked") == ["user.sessions_revoked"]

    def test_admin_cannot_disable_themselves(self, client, world):
        response = client.patch(f"/api/v1/users/{world['admin'].id}", headers=world.headers("admin"),
                                json={"active": False})
        assert_problem(response, 409)

    def test_unknown_user_is_404(self, client, world):
        response = client.patch("/api/v1/users/00000000-0000-0000-0000-000000000000",
                                headers=world.headers("admin"), json={"display_name": "X"})
        assert_problem(response, 404)

    def test_bad_uuid_is_422(self, client, world):
        assert_problem(client.patch("/api/v1/users/not-a-uuid", headers=world.headers("admin"), json={}), 422)


def test_every_audited_login_names_the_client_address(client):
    user = make_user()
    login(client, user)
    with session_scope() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login"))
        assert event.ip == "testclient"
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1
