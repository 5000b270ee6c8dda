"""What officers see and send: listing, rendering, import/export, usage figures, counter-messages."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.core.db import session_scope
from app.core.errors import Conflict, NotFound
from app.templates import service
from app.templates.models import TemplateUse, TemplateVersion
from tests.factories import make_operation
from tests.helpers import assert_problem, audit_events
from tests.templates.builders import DEFAULT_BODY, act, approved, create, render

URL = "/api/v1/templates"


def uses() -> list[TemplateUse]:
    with session_scope() as session:
        return list(session.scalars(select(TemplateUse).order_by(TemplateUse.created_at)))


def expire(template_id: str) -> None:
    with session_scope() as session:
        for version in session.scalars(select(TemplateVersion).where(
                TemplateVersion.template_id == uuid.UUID(template_id))):
            version.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            session.add(version)


class TestListForOperation:
    def op_list(self, client, world, who="officer", **params):
        response = client.get(f"/api/v1/operations/{world.op.id}/templates", params=params,
                              headers=world.headers(who))
        assert response.status_code == 200, response.text
        return response.json()

    def test_anonymous_and_strangers(self, client, world):
        assert_problem(client.get(f"/api/v1/operations/{world.op.id}/templates"), 401)
        assert_problem(client.get(f"/api/v1/operations/{world.op.id}/templates",
                                  headers=world.headers("outsider")), 404)

    def test_officers_see_only_approved_usable_templates_of_their_operations_and_global(self, client, world):
        standing = approved(client, world, title="Standing")
        ours = approved(client, world, title="Ours", operation_id=str(world.op.id))
        approved(client, world, author="gold", approver="comms", title="Elsewhere",
                 operation_id=str(world.other_op.id))
        create(client, world, title="Draft")
        pending = create(client, world, title="Pending")
        act(client, world, pending["id"], "submit", "comms")
        expired = approved(client, world, title="Expired")
        expire(expired["id"])
        retired = approved(client, world, title="Retired")
        act(client, world, retired["id"], "retire", "gold")
        assert sorted(t["title"] for t in self.op_list(client, world)) == ["Ours", "Standing"]
        assert all(t["usable"] and t["versions"] is None for t in self.op_list(client, world))
        staff = sorted(t["title"] for t in self.op_list(client, world, "bronze"))
        assert staff == ["Draft", "Expired", "Ours", "Pending", "Standing"]
        with_retired = self.op_list(client, world, "gold", status="retired")
        assert [t["title"] for t in with_retired] == ["Retired"]
        assert_problem(client.get(f"{URL}/{ours['id']}", headers=world.headers("other_bronze")), 404)
        assert client.get(f"{URL}/{standing['id']}", headers=world.headers("other_bronze")).status_code == 200

    def test_search_and_filters(self, client, world):
        approved(client, world, title="Road reopening", category="road_closures", channel="social_reply")
        approved(client, world, title="Stay calm", body="Please stay calm near {location}.",
                 slots=[{"name": "location", "kind": "text"}], category="reassurance", channel="loudhailer",
                 tags=["crowd"])
        approved(client, world, title="Polish", language="pl", body="Policja jest na {location} o {time}.")
        assert [t["title"] for t in self.op_list(client, world, q="CALM")] == ["Stay calm"]
        assert [t["title"] for t in self.op_list(client, world, q="crowd")] == ["Stay calm"]
        assert [t["title"] for t in self.op_list(client, world, category="reassurance")] == ["Stay calm"]
        assert [t["title"] for t in self.op_list(client, world, channel="loudhailer")] == ["Stay calm"]
        assert [t["title"] for t in self.op_list(client, world, language="pl")] == ["Polish"]
        assert_problem(client.get(f"/api/v1/operations/{world.op.id}/templates", params={"channel": "fax"},
                                  headers=world.headers("officer")), 422)

    def test_most_used_by_me_then_my_serial_first(self, client, world):
        first = approved(client, world, title="A first")
        second = approved(client, world, title="B second")
        third = approved(client, world, title="C third")
        for _ in range(2):
            render(client, world, third["id"], "officer2")  # officer2 is Serial 2
        render(client, world, second["id"], "officer")
        titles = [t["title"] for t in self.op_list(client, world)]
        assert titles == ["B second", "A first", "C third"]
        assert [t["title"] for t in self.op_list(client, world, "officer2")][0] == "C third"
        mine = {t["title"]: (t["uses_by_me"], t["uses_by_my_group"]) for t in self.op_list(client, world)}
        assert mine == {"A first": (0, 0), "B second": (1, 1), "C third": (0, 0)}
        assert first["id"]

    def test_closed_operation_keeps_history_but_nothing_is_usable(self, client, world, db):
        approved(client, world, title="Ours", operation_id=str(world.op.id))
        world.op.status = "closed"
        db.add(world.op)
        db.commit()
        listed = self.op_list(client, world)
        assert [(t["title"], t["usable"]) for t in listed] == [("Ours", False)]
        assert "closed" in listed[0]["unusable_reason"]


class TestRenderTemplate:
    def test_anonymous(self, client, world):
        template = approved(client, world)
        assert_problem(client.post(f"{URL}/{template['id']}/render", json={"operation_id": str(world.op.id)}), 401)

    def test_valid_records_the_use_with_one_audit_event(self, client, world):
        template = approved(client, world, operation_id=str(world.op.id))
        before = len(audit_events())
        response = render(client, world, template["id"], channel="in_person",
                          in_reply_to="https://social.example/post/1", client_id="c-1")
        assert response.status_code == 201, response.text
        body = response.json()
        expected = DEFAULT_BODY.replace("{location}", "Bull Street").replace("{time}", "15:30")
        assert body["text"] == expected and body["replayed"] is False and body["channel"] == "in_person"
        (use,) = uses()
        assert str(use.id) == body["use_id"] and use.text == expected
        assert use.slot_values == {"location": "Bull Street", "time": "15:30"}
        assert (use.user_id, use.group_name, use.client_id) == (world["officer"].id, "Serial 1", "c-1")
        assert use.in_reply_to == "https://social.example/post/1" and str(use.version_id) == template["version_id"]
        events = audit_events()[before:]
        assert [e.action for e in events] == ["template.used"]
        assert events[0].target_id == body["use_id"] and events[0].details["text"] == expected
        assert events[0].ip and events[0].ip == audit_events("template.approved")[0].ip  # the caller's address

    def test_an_exercise_is_marked(self, client, world):
        template = approved(client, world)
        assert render(client, world, template["id"]).json()["exercise"] is False
        exercise = make_operation(name="Ex Lantern", exercise=True, members=[(world["officer"], "officer", "S1")])
        assert render(client, world, template["id"], operation=exercise).json()["exercise"] is True

    def test_channel_defaults_to_the_templates(self, client, world):
        template = approved(client, world, channel="loudhailer")
        assert render(client, world, template["id"]).json()["channel"] == "loudhailer"

    @pytest.mark.parametrize(("slots", "slot"), [
        ({"location": "Bull Street"}, "time"),
        ({"location": "Bull Street", "time": "15:30", "mood": "calm"}, "mood"),
        ({"location": "Bull Street", "time": "16:45"}, "time"),
        ({"location": "x" * 61, "time": "15:30"}, "location"),
        ({"location": "see https://evil.example", "time": "15:30"}, "location"),
        ({"location": "evil.example/x", "time": "15:30"}, "location"),
        ({"location": "@everyone", "time": "15:30"}, "location"),
        ({"location": "<script>", "time": "15:30"}, "location"),
        ({"location": "{time}", "time": "15:30"}, "location"),
        ({"location": "", "time": "15:30"}, "location"),
    ])
    def test_bad_slot_values_are_422_naming_the_slot_and_record_nothing(self, client, world, slots, slot):
        template = approved(client, world)
        before = len(audit_events())
        problem = assert_problem(render(client, world, template["id"], slots=slots), 422)
        assert slot in problem["detail"] and problem["errors"][0]["loc"][-1] == slot
        assert uses() == [] and len(audit_events()) == before

    def test_malformed_bodies_are_422(self, client, world):
        template = approved(client, world)
        for payload in ({}, {"operation_id": "nope"}, {"operation_id": str(world.op.id), "slots": {"time": 5}},
                        {"operation_id": str(world.op.id), "slots": {}, "client_id": "has spaces"},
                        {"operation_id": str(world.op.id), "slots": {}, "extra": 1}):
            assert_problem(client.post(f"{URL}/{template['id']}/render", json=payload,
                                       headers=world.headers("officer")), 422)
        assert uses() == []

    def test_same_client_id_is_recorded_once(self, client, world):
        template = approved(client, world)
        first = render(client, world, template["id"], client_id="offline-42")
        again = render(client, world, template["id"], client_id="offline-42")
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["use_id"] == first.json()["use_id"] and again.json()["replayed"] is True
        assert len(uses()) == 1 and len(audit_events("template.used")) == 1
        # another officer's identical client id is their own use
        assert render(client, world, template["id"], "officer2", client_id="offline-42").status_code == 201
        other = approved(client, world, title="Other")
        assert_problem(render(client, world, other["id"], client_id="offline-42"), 409)

    def test_a_queued_render_replayed_after_retirement_is_still_the_same_use(self, client, world):
        template = approved(client, world)
        first = render(client, world, template["id"], client_id="queued-1").json()
        act(client, world, template["id"], "retire", "gold")
        again = render(client, world, template["id"], client_id="queued-1")
        assert again.status_code == 200 and again.json()["use_id"] == first["use_id"]
        assert_problem(render(client, world, template["id"], client_id="queued-2"), 404)
        assert len(uses()) == 1

    def test_draft_pending_expired_retired(self, client, world):
        draft = create(client, world)
        assert_problem(render(client, world, draft["id"]), 404)
        assert_problem(render(client, world, draft["id"], "bronze"), 409)
        act(client, world, draft["id"], "submit", "comms")
        assert_problem(render(client, world, draft["id"]), 404)
        expiring = approved(client, world, title="Expiring")
        expire(expiring["id"])
        assert_problem(render(client, world, expiring["id"]), 404)
        assert "expired" in assert_problem(render(client, world, expiring["id"], "bronze"), 409)["detail"]
        assert uses() == []

    def test_another_operations_template_is_404(self, client, world):
        theirs = approved(client, world, author="gold", approver="comms", operation_id=str(world.other_op.id))
        assert_problem(render(client, world, theirs["id"]), 404)
        assert_problem(render(client, world, theirs["id"], "bronze"), 404)  # bronze of op: still not in other_op
        assert_problem(render(client, world, str(uuid.uuid4())), 404)
        assert uses() == []

    def test_not_a_member_of_the_operation(self, client, world):
        template = approved(client, world)
        assert_problem(render(client, world, template["id"], "outsider"), 404)
        assert_problem(render(client, world, template["id"], "admin"), 403)  # sees every op, speaks in none
        assert_problem(render(client, world, template["id"], "auditor"), 403)
        assert uses() == []

    def test_closed_operation_is_409(self, client, world, db):
        template = approved(client, world, operation_id=str(world.op.id))
        standing = approved(client, world, title="Standing")
        world.op.status = "closed"
        db.add(world.op)
        db.commit()
        assert "closed" in assert_problem(render(client, world, template["id"]), 409)["detail"]
        assert_problem(render(client, world, standing["id"]), 409)
        assert uses() == []

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(location=st.one_of(st.text(alphabet="ab Zł ب{}@.:/<>*_#'-\u202e\n", max_size=70), st.text(max_size=70)),
           time=st.sampled_from(["14:00", "15:30", "16:00", " 15:30 ", "{location}"]))
    def test_any_render_is_rejected_or_exactly_the_approved_body_with_the_values(self, client, world, location,
                                                                                   time):
        if not hasattr(world, "_template"):
            world._template = approved(client, world)
        before = len(uses())
        response = render(client, world, world._template["id"], slots={"location": location, "time": time})
        if response.status_code == 422:
            assert len(uses()) == before
            return
        assert response.status_code == 201, response.text
        values = response.json()["slots"]
        assert values == {"location": location.strip(), "time": time.strip()}
        body = world._template["body"]
        assert response.json()["text"] == body.replace("{location}", "\0").replace("{time}", values["time"]) \
            .replace("\0", values["location"])
        assert len(uses()) == before + 1


class TestImportExport:
    def test_export_needs_the_right_role(self, client, world):
        assert_problem(client.get(f"{URL}/export", headers=world.headers("officer")), 403)
        assert_problem(client.get(f"{URL}/export", headers=world.headers("bronze")), 403)
        assert_problem(client.get(f"{URL}/export", params={"operation_id": str(world.op.id)},
                                  headers=world.headers("other_bronze")), 404)

    def test_round_trip_arrives_as_drafts_by_the_importer(self, client, world):
        original = approved(client, world)
        urdu = client.post(f"{URL}/{original['id']}/translations", headers=world.headers("bronze"),
                           json={"language": "ur", "title": "سڑک", "body": "پولیس {location} پر ہے۔ {time}"}).json()
        act(client, world, urdu["id"], "submit", "bronze")
        act(client, world, urdu["id"], "approve", "gold", {})
        create(client, world, title="Unapproved draft")
        exported = client.get(f"{URL}/export", headers=world.headers("comms"))
        assert exported.status_code == 200, exported.text
        library = exported.json()
        assert library["format"] == "parley.template-library/1"
        assert sorted(t["language"] for t in library["templates"]) == ["en", "ur"]
        assert [e.details["count"] for e in audit_events("template.exported")] == [2]
        imported = client.post(f"{URL}/import", json={**library, "operation_id": str(world.op.id)},
                               headers=world.headers("bronze"))
        assert imported.status_code == 201, imported.text
        result = imported.json()
        assert result["imported"] == 2
        assert all(t["status"] == "draft" and t["imported"] and t["operation_id"] == str(world.op.id)
                   for t in result["templates"])
        by_language = {t["language"]: t for t in result["templates"]}
        assert by_language["ur"]["translation_of"] == by_language["en"]["id"]
        assert by_language["ur"]["direction"] == "rtl"
        assert len(audit_events("template.imported")) == 2
        # four eyes hold for imports: the importer cannot approve them
        act(client, world, by_language["en"]["id"], "submit", "bronze")
        assert_problem(act(client, world, by_language["en"]["id"], "approve", "bronze", {}), 403)

    def test_a_bad_file_imports_nothing(self, client, world):
        good = {"key": "a", "title": "Fine", "body": "At {location}", "category": "information",
                "channel": "in_person", "slots": [{"name": "location", "kind": "text"}]}
        bad = {**good, "key": "b", "body": "At {nowhere}"}
        orphan = {**good, "key": "c", "translation_of": "zzz", "language": "ur"}
        for templates in ([good, bad], [good, orphan], [good, {**good}]):
            response = client.post(f"{URL}/import", json={"templates": templates}, headers=world.headers("comms"))
            assert_problem(response, 422)
        assert_problem(client.post(f"{URL}/import", json={"templates": [good], "format": "other/9"},
                                   headers=world.headers("comms")), 422)
        assert_problem(client.post(f"{URL}/import", json={"templates": [good]}, headers=world.headers("officer")),
                       403)
        assert audit_events("template.imported") == []
        assert client.get(URL, headers=world.headers("comms")).json() == []


class TestUsageFigures:
    def test_figures_by_template_channel_category_and_serial(self, client, world):
        roads = approved(client, world, title="Roads")
        calm = approved(client, world, title="Calm", body="Stay calm at {location}.",
                        slots=[{"name": "location", "kind": "text"}], category="reassurance")
        render(client, world, roads["id"], "officer")
        render(client, world, roads["id"], "officer2", channel="in_person")
        render(client, world, roads["id"], "officer2")
        render(client, world, calm["id"], "officer", slots={"location": "Gate 3"})
        response = client.get(f"/api/v1/operations/{world.op.id}/templates/usage", headers=world.headers("bronze"))
        assert response.status_code == 200, response.text
        figures = response.json()
        assert figures["uses"] == 4
        assert [(t["title"], t["uses"]) for t in figures["by_template"]] == [("Roads", 3), ("Calm", 1)]
        assert figures["by_channel"] == {"social_reply": 3, "in_person": 1}
        assert figures["by_category"] == {"road_closures": 3, "reassurance": 1}
        assert figures["by_group"] == {"Serial 1": 2, "Serial 2": 2}
        assert client.get(f"/api/v1/operations/{world.other_op.id}/templates/usage",
                          headers=world.headers("other_bronze")).json()["uses"] == 0

    def test_officers_and_strangers(self, client, world):
        assert_problem(client.get(f"/api/v1/operations/{world.op.id}/templates/usage",
                                  headers=world.headers("officer")), 403)
        assert_problem(client.get(f"/api/v1/operations/{world.op.id}/templates/usage",
                                  headers=world.headers("other_bronze")), 404)
        assert client.get(f"/api/v1/operations/{world.op.id}/templates/usage",
                          headers=world.headers("auditor")).status_code == 200


class TestCounterMessage:
    def test_only_an_approved_usable_template_in_reach(self, client, world, db):
        other_op = make_operation(name="Op Later")
        usable = approved(client, world, operation_id=str(world.op.id))
        draft = create(client, world)
        theirs = approved(client, world, author="gold", approver="comms", operation_id=str(world.other_op.id))
        found = service.get_template_for_counter_message(db, template_id=uuid.UUID(usable["id"]),
                                                         operation_id=world.op.id)
        assert str(found.id) == usable["id"]
        with pytest.raises(Conflict):
            service.get_template_for_counter_message(db, template_id=uuid.UUID(draft["id"]), operation_id=world.op.id)
        for template_id in (theirs["id"], str(uuid.uuid4())):
            with pytest.raises(NotFound):
                service.get_template_for_counter_message(db, template_id=uuid.UUID(template_id),
                                                         operation_id=world.op.id)
        with pytest.raises(NotFound):
            service.get_template_for_counter_message(db, template_id=uuid.UUID(usable["id"]),
                                                     operation_id=other_op.id)


def test_two_deliveries_of_one_queued_render_at_the_same_moment_record_one_use(client, world):
    """The second transaction waits for the first (row lock on PostgreSQL, write lock on SQLite), then
    answers with the first one's use instead of failing or recording twice."""
    import threading

    from app.auth.models import User
    from app.core.db import new_session
    from app.templates.schemas import RenderIn

    template = approved(client, world)
    data = RenderIn(operation_id=world.op.id, slots={"location": "Gate 3", "time": "14:00"}, client_id="twice")
    first = new_session()
    rendered = service.render(session=first, actor=first.get(User, world["officer"].id),
                              template_id=uuid.UUID(template["id"]), data=data)
    first.flush()
    results = []

    def second_delivery():
        with session_scope() as second:
            results.append(service.render(session=second, actor=second.get(User, world["officer"].id),
                                          template_id=uuid.UUID(template["id"]), data=data))

    thread = threading.Thread(target=second_delivery)
    thread.start()
    thread.join(timeout=1)
    assert thread.is_alive()  # waiting for the first delivery's transaction
    first.commit()
    first.close()
    thread.join(timeout=30)
    other, = results
    assert (rendered.replayed, other.replayed) == (False, True) and other.use.id == rendered.use.id
    assert len(uses()) == 1 and len(audit_events("template.used")) == 1
