"""POST /operations/{op}/notifications: who may send, to whom, and what bad input gets."""

import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.notifications.models import Notification, NotificationRecipient, PushDelivery
from tests.factories import make_operation
from tests.notifications.conftest import drain, send, subscribe


def written(db) -> tuple[int, int, int, int]:
    counts = tuple(db.scalar(select(func.count()).select_from(m))
                   for m in (Notification, NotificationRecipient, PushDelivery, AuditEvent))
    db.rollback()
    return counts


class TestSendPermissions:
    def test_anonymous(self, client, world):
        response = client.post(f"/api/v1/operations/{world.op.id}/notifications", json={"title": "t", "body": "b"})
        assert response.status_code == 401

    @pytest.mark.parametrize("who", ["officer", "comms", "auditor", "admin"])
    def test_roles_that_may_not_send(self, client, world, db, who):
        before = written(db)
        assert send(client, world, {}, who=who).status_code == 403
        assert written(db) == before

    def test_command_of_another_operation_gets_404(self, client, world, db):
        assert send(client, world, {}, who="other_bronze").status_code == 404
        assert send(client, world, {}, who="outsider").status_code == 404

    @pytest.mark.parametrize("who", ["bronze", "gold"])
    def test_bronze_and_gold_of_the_operation_send(self, client, world, who):
        response = send(client, world, {}, who=who)
        assert response.status_code == 201, response.text
        assert response.json()["sender_id"] == str(world[who].id)

    def test_closed_operation_is_read_only(self, client, world, db):
        closed = make_operation(name="Op Done", status="closed", members=[(world["bronze"], "bronze", None),
                                                                          (world["officer"], "officer", None)])
        response = send(client, world, {}, op=closed)
        assert response.status_code == 409


class TestAudience:
    def test_whole_operation_is_every_member_but_the_sender(self, client, world, db):
        nid = send(client, world, {"audience": {"kind": "operation"}}).json()["id"]
        users = set(db.scalars(select(NotificationRecipient.user_id).where(
            NotificationRecipient.notification_id == uuid.UUID(nid))))
        assert users == {world[n].id for n in ("gold", "comms", "officer", "officer2")}

    def test_group(self, client, world, db):
        response = send(client, world, {"audience": {"kind": "group", "value": "Serial 2"}})
        assert response.status_code == 201
        assert response.json()["counts"]["targets"] == 1
        assert db.scalar(select(NotificationRecipient.user_id)) == world["officer2"].id

    def test_role(self, client, world):
        assert send(client, world, {"audience": {"kind": "role", "value": "comms"}}).json()["counts"]["targets"] == 1

    def test_named_users(self, client, world, db):
        ids = [str(world["officer"].id), str(world["gold"].id), str(world["officer"].id)]
        response = send(client, world, {"audience": {"kind": "users", "value": ids}})
        assert response.status_code == 201
        assert response.json()["counts"]["targets"] == 2

    @pytest.mark.parametrize("audience", [
        {"kind": "group", "value": "Serial 9"},
        {"kind": "users", "value": ["OTHER_BRONZE"]},
        {"kind": "users", "value": [str(uuid.uuid4())]},
        {"kind": "role", "value": "auditor"},
        {"kind": "role"},
        {"kind": "users", "value": []},
        {"kind": "operation", "value": "x"},
        {"kind": "everyone"},
    ])
    def test_audience_outside_the_operation_is_refused_and_nothing_written(self, client, world, db, audience):
        if audience.get("value") == ["OTHER_BRONZE"]:
            audience = {"kind": "users", "value": [str(world["other_bronze"].id)]}
        before = written(db)
        response = send(client, world, {"audience": audience})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert written(db) == before


class TestBadInput:
    @pytest.mark.parametrize("change", [
        {"body": ""}, {"body": "   "}, {"title": ""}, {"ttl_seconds": -1}, {"ttl_seconds": 2_419_201},
        {"urgency": "urgent"}, {"urgency": None}, {"topic": "has space"}, {"topic": "x" * 33},
        {"ack_within_seconds": 60}, {"require_ack": True, "ack_within_seconds": 5}, {"url": "https://evil.example"},
        {"url": "//evil.example"}, {"body": "x" * 4001}, {"unknown": 1}, {"sensitive": "maybe"},
    ])
    def test_refused_with_422_and_nothing_written(self, client, world, db, change):
        before = written(db)
        response = send(client, world, change)
        assert response.status_code == 422, (change, response.text)
        assert response.json()["status"] == 422
        assert written(db) == before

    @pytest.mark.parametrize("ttl", [0, 2_419_200])
    def test_ttl_bounds_are_accepted(self, client, world, ttl):
        assert send(client, world, {"ttl_seconds": ttl}).status_code == 201

    @hsettings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(payload=st.dictionaries(
        st.sampled_from(["title", "body", "urgency", "ttl_seconds", "audience", "require_ack",
                         "ack_within_seconds", "topic", "sensitive", "url"]),
        st.one_of(st.none(), st.booleans(), st.integers(-10, 10**7), st.text(max_size=50),
                  st.lists(st.text(max_size=5), max_size=2), st.dictionaries(st.text(max_size=6), st.text(max_size=6),
                                                                          max_size=2))))
    def test_arbitrary_bodies_never_500(self, client, world, payload):
        response = client.post(f"/api/v1/operations/{world.op.id}/notifications", json=payload,
                               headers=world.headers("bronze"))
        assert response.status_code in (201, 422), response.text


class TestInbox:
    def test_officer_sees_only_messages_addressed_to_them(self, client, world):
        send(client, world, {"title": "To Serial 1", "audience": {"kind": "group", "value": "Serial 1"}})
        send(client, world, {"title": "To Serial 2", "audience": {"kind": "group", "value": "Serial 2"}})
        inbox = client.get(f"/api/v1/operations/{world.op.id}/notifications", headers=world.headers("officer"))
        assert [n["title"] for n in inbox.json()] == ["To Serial 1"]
        assert inbox.json()[0]["counts"] is None

    def test_command_and_auditor_see_all_with_counts(self, client, world):
        send(client, world, {"audience": {"kind": "group", "value": "Serial 1"}})
        send(client, world, {"audience": {"kind": "group", "value": "Serial 2"}})
        for who in ("gold", "auditor"):
            listing = client.get(f"/api/v1/operations/{world.op.id}/notifications", headers=world.headers(who))
            assert listing.status_code == 200
            assert [n["counts"]["targets"] for n in listing.json()] == [1, 1]

    def test_outsider_gets_404(self, client, world):
        response = client.get(f"/api/v1/operations/{world.op.id}/notifications", headers=world.headers("outsider"))
        assert response.status_code == 404

    def test_naive_before_is_a_422(self, client, world):
        response = client.get(f"/api/v1/operations/{world.op.id}/notifications?before=2026-01-01T00:00:00",
                              headers=world.headers("bronze"))
        assert response.status_code == 422

    def test_detail_is_for_recipients_and_command_only(self, client, world):
        nid = send(client, world, {"audience": {"kind": "group", "value": "Serial 1"}}).json()["id"]
        url = f"/api/v1/notifications/{nid}"
        assert client.get(url, headers=world.headers("officer")).json()["counts"] is None
        assert client.get(url, headers=world.headers("officer2")).status_code == 404
        assert client.get(url, headers=world.headers("other_bronze")).status_code == 404
        assert client.get(url, headers=world.headers("auditor")).json()["counts"]["targets"] == 1
        assert client.get(f"/api/v1/notifications/{uuid.uuid4()}", headers=world.headers("bronze")).status_code == 404


class TestPayloadContent:
    def test_sensitive_message_pushes_only_a_generic_line(self, client, world, push, settings):
        phone = subscribe(client, world.headers("officer"), push)
        nid = send(client, world, {"title": "Suspect named", "body": "The suspect is J. Smith", "sensitive": True,
                                   "audience": {"kind": "group", "value": "Serial 1"}}).json()["id"]
        drain(settings)
        [message] = push.inbox(phone["endpoint"])
        text = str(message)
        assert "Smith" not in text and "Suspect" not in text
        assert message["sensitive"] is True
        inbox = client.get(f"/api/v1/notifications/{nid}", headers=world.headers("officer")).json()
        assert inbox["body"] == "The suspect is J. Smith"  # the app fetches the text after sign-in

    def test_long_body_is_cut_to_fit_and_kept_whole_in_the_inbox(self, client, world, push, settings):
        phone = subscribe(client, world.headers("officer"), push)
        body = "Ünïcödé 🚓 \"quoted\" " * 200
        body = body[:4000]
        nid = send(client, world, {"body": body, "audience": {"kind": "group", "value": "Serial 1"}}).json()["id"]
        drain(settings)
        [message] = push.inbox(phone["endpoint"])
        assert message["truncated"] is True
        assert body.startswith(message["body"].rstrip("…").rstrip())
        assert client.get(f"/api/v1/notifications/{nid}", headers=world.headers("officer")).json()["body"] == body

    def test_exercise_is_marked_on_the_message(self, client, world, push, settings):
        exercise = make_operation(name="Op Drill", exercise=True, members=[
            (world["bronze"], "bronze", None), (world["officer"], "officer", "Serial 1")])
        phone = subscribe(client, world.headers("officer"), push)
        assert send(client, world, {}, op=exercise).status_code == 201
        drain(settings)
        [message] = push.inbox(phone["endpoint"])
        assert message["title"].startswith("EXERCISE: ") and message["exercise"] is True
