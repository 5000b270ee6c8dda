"""Creating, reviewing, revising, translating and retiring templates over HTTP."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.core.db import session_scope
from app.live.models import LiveEvent
from app.templates.models import Template
from tests.factories import add_member, auth_headers, make_user
from tests.helpers import assert_problem, audit_events
from tests.templates.builders import act, approved, create, render, template_body

URL = "/api/v1/templates"


def template_count() -> int:
    with session_scope() as session:
        return len(session.scalars(select(Template.id)).all())


class TestCreateTemplate:
    def test_anonymous(self, client, world):
        assert_problem(client.post(URL, json=template_body()), 401)

    def test_wrong_role(self, client, world):
        for who in ("officer", "auditor"):
            assert_problem(client.post(URL, json=template_body(), headers=world.headers(who)), 403)
        assert template_count() == 0

    def test_valid_global_draft_with_one_audit_event(self, client, world):
        before = len(audit_events())
        template = create(client, world, author="bronze")
        assert template["status"] == "draft" and template["operation_id"] is None
        assert template["version_number"] == 1 and template["usable"] is False
        assert template["slots"][0] == {"name": "location", "kind": "text", "label": None, "max_length": 60,
                                        "charset": "text", "allow_urls": False, "allow_mentions": False,
                                        "allow_markup": False}
        events = audit_events()[before:]
        assert [e.action for e in events] == ["template.created"]
        assert events[0].target_id == template["id"] and events[0].details["body"] == template["body"]

    def test_operation_template(self, client, world):
        template = create(client, world, author="bronze", operation_id=str(world.op.id))
        assert template["operation_id"] == str(world.op.id)
        assert audit_events("template.created")[0].operation_id == str(world.op.id)

    def test_operation_unknown_to_the_author_is_404(self, client, world):
        response = client.post(URL, json=template_body(operation_id=str(world.op.id)),
                               headers=world.headers("other_bronze"))
        assert_problem(response, 404)

    def test_closed_operation_is_409(self, client, world, db):
        world.op.status = "closed"
        db.add(world.op)
        db.commit()
        response = client.post(URL, json=template_body(operation_id=str(world.op.id)), headers=world.headers("gold"))
        assert_problem(response, 409)
        assert template_count() == 0

    def test_body_and_slots_must_agree(self, client, world):
        cases = [
            template_body(body="At {place}."),
            template_body(body="Officers at {location} until {time} {"),
            template_body(slots=[{"name": "location", "kind": "text"}]),
            template_body(slots=[{"name": "location", "kind": "choice"}, {"name": "time", "kind": "text"}]),
            template_body(slots=[{"name": "Location", "kind": "text"}, {"name": "time", "kind": "text"}]),
            template_body(language="english"),
            template_body(channel="carrier_pigeon"),
            template_body(surprise=True),
            template_body(title=""),
            template_body(slots=[{"name": "location", "kind": "text"},
                                 {"name": "time", "kind": "choice", "choices": ["14:00", "see evil.com"]}]),
        ]
        for body in cases:
            problem = assert_problem(client.post(URL, json=body, headers=world.headers("comms")), 422)
            assert problem["errors"], problem
        assert template_count() == 0 and audit_events("template.created") == []

    def test_language_is_canonical_and_direction_follows_it(self, client, world):
        urdu = create(client, world, language="ur-pk", title="سڑک", body="پولیس {location} پر ہے۔ {time}")
        assert (urdu["language"], urdu["direction"]) == ("ur-PK", "rtl")
        assert create(client, world, language="pl")["direction"] == "ltr"


class TestSubmitTemplate:
    def test_author_submits(self, client, world):
        template = create(client, world, author="bronze")
        response = act(client, world, template["id"], "submit", "bronze")
        assert response.status_code == 200 and response.json()["status"] == "pending"
        assert [e.action for e in audit_events("template.submitted")] == ["template.submitted"]

    def test_someone_else_may_not(self, client, world):
        template = create(client, world, author="bronze")
        assert_problem(act(client, world, template["id"], "submit", "comms"), 403)

    def test_twice_is_409(self, client, world):
        template = create(client, world)
        act(client, world, template["id"], "submit", "comms")
        assert_problem(act(client, world, template["id"], "submit", "comms"), 409)
        assert len(audit_events("template.submitted")) == 1


class TestApproveTemplate:
    def test_anonymous(self, client, world):
        template = create(client, world)
        assert_problem(client.post(f"{URL}/{template['id']}/approve", json={}), 401)

    def test_wrong_role(self, client, world):
        template = create(client, world, author="comms")
        act(client, world, template["id"], "submit", "comms")
        assert_problem(act(client, world, template["id"], "approve", "bronze", {}), 403)
        assert_problem(act(client, world, template["id"], "approve", "admin", {}), 403)
        # officers may not even know a draft exists
        assert_problem(act(client, world, template["id"], "approve", "officer", {}), 404)

    def test_own_template_forbidden(self, client, world):
        template = create(client, world, author="comms")
        act(client, world, template["id"], "submit", "comms")
        assert_problem(act(client, world, template["id"], "approve", "comms", {}), 403)
        assert audit_events("template.approved") == []

    def test_author_of_the_version_under_review_forbidden(self, client, world):
        original = approved(client, world, author="bronze", approver="gold")
        client.post(f"{URL}/{original['id']}/versions", json={"title": "New title"}, headers=world.headers("comms"))
        act(client, world, original["id"], "submit", "comms")
        assert_problem(act(client, world, original["id"], "approve", "comms", {}), 403)
        response = act(client, world, original["id"], "approve", "gold", {})
        assert response.status_code == 200 and response.json()["title"] == "New title"

    def test_valid(self, client, world):
        template = create(client, world, author="comms", operation_id=str(world.op.id))
        act(client, world, template["id"], "submit", "comms")
        expires = (datetime.now(UTC) + timedelta(hours=4)).isoformat()
        response = act(client, world, template["id"], "approve", "gold", {"expires_at": expires})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "approved" and body["usable"] is True and body["expires_at"]
        events = audit_events("template.approved")
        assert len(events) == 1 and events[0].actor_id == str(world["gold"].id)
        assert events[0].details["version"] == 1 and events[0].details["expires_at"]
        with session_scope() as session:
            live = session.scalars(select(LiveEvent).where(LiveEvent.type == "template.approved")).all()
        assert [e.data["template_id"] for e in live] == [template["id"]]
        assert live[0].audience == {"kind": "members", "user_ids": []}

    def test_global_template_publishes_no_operation_event(self, client, world):
        approved(client, world)
        with session_scope() as session:
            assert session.scalars(select(LiveEvent).where(LiveEvent.type == "template.approved")).all() == []

    def test_approved_twice_is_409(self, client, world):
        template = approved(client, world)
        assert_problem(act(client, world, template["id"], "approve", "gold", {}), 409)
        assert_problem(act(client, world, template["id"], "approve", "comms", {}), 403)  # the author still 403
        assert len(audit_events("template.approved")) == 1

    def test_expiry_in_the_past_is_422(self, client, world):
        template = create(client, world)
        act(client, world, template["id"], "submit", "comms")
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        assert_problem(act(client, world, template["id"], "approve", "gold", {"expires_at": past}), 422)
        assert_problem(act(client, world, template["id"], "approve", "gold", {"expires_at": "2030-01-01T00:00"}),
                       422)
        assert client.get(f"{URL}/{template['id']}", headers=world.headers("gold")).json()["status"] == "pending"

    def test_operation_comms_approves_that_operations_templates_only(self, client, world):
        press_officer = make_user("officer", name="PC Press")
        add_member(world.op, press_officer, role="comms")
        headers = auth_headers(press_officer)
        scoped = create(client, world, author="bronze", operation_id=str(world.op.id))
        act(client, world, scoped["id"], "submit", "bronze")
        assert client.post(f"{URL}/{scoped['id']}/approve", json={}, headers=headers).status_code == 200
        standing = create(client, world, author="bronze")
        act(client, world, standing["id"], "submit", "bronze")
        assert_problem(client.post(f"{URL}/{standing['id']}/approve", json={}, headers=headers), 404)

    def test_force_comms_reviews_an_operation_it_is_not_in(self, client, world):
        force_comms = make_user("comms", name="Force comms")
        scoped = create(client, world, author="bronze", operation_id=str(world.op.id))
        act(client, world, scoped["id"], "submit", "bronze")
        queue = client.get(URL, params={"operation_id": str(world.op.id), "status": "pending"},
                           headers=auth_headers(force_comms))
        assert [t["id"] for t in queue.json()] == [scoped["id"]]
        assert client.post(f"{URL}/{scoped['id']}/approve", json={}, headers=auth_headers(force_comms)).status_code \
            == 200


class TestRejectTemplate:
    def test_reason_required(self, client, world):
        template = create(client, world)
        act(client, world, template["id"], "submit", "comms")
        assert_problem(act(client, world, template["id"], "reject", "gold", {}), 422)
        assert_problem(act(client, world, template["id"], "reject", "gold", {"reason": "   "}), 422)

    def test_own_template_forbidden(self, client, world):
        template = create(client, world)
        act(client, world, template["id"], "submit", "comms")
        assert_problem(act(client, world, template["id"], "reject", "comms", {"reason": "hmm"}), 403)

    def test_valid_back_to_draft_with_reason(self, client, world):
        template = create(client, world)
        act(client, world, template["id"], "submit", "comms")
        response = act(client, world, template["id"], "reject", "gold", {"reason": "Name the road, not the area."})
        assert response.status_code == 200 and response.json()["status"] == "draft"
        detail = client.get(f"{URL}/{template['id']}", headers=world.headers("comms")).json()
        assert detail["versions"][0]["reject_reason"] == "Name the road, not the area."
        assert [e.details["reason"] for e in audit_events("template.rejected")] == ["Name the road, not the area."]
        assert act(client, world, template["id"], "submit", "comms").status_code == 200

    def test_draft_is_409(self, client, world):
        template = create(client, world)
        assert_problem(act(client, world, template["id"], "reject", "gold", {"reason": "no"}), 409)


class TestRetireTemplate:
    def test_wrong_role(self, client, world):
        template = approved(client, world)
        for who in ("comms", "bronze"):
            assert_problem(act(client, world, template["id"], "retire", who), 403)

    def test_valid_stops_use_and_keeps_history(self, client, world):
        template = approved(client, world)
        assert render(client, world, template["id"]).status_code == 201
        response = act(client, world, template["id"], "retire", "admin")
        assert response.status_code == 200 and response.json()["status"] == "retired"
        assert [e.action for e in audit_events("template.retired")] == ["template.retired"]
        assert_problem(client.get(f"{URL}/{template['id']}", headers=world.headers("officer")), 404)
        assert_problem(render(client, world, template["id"]), 404)
        assert_problem(render(client, world, template["id"], "bronze"), 409)
        assert client.get(f"{URL}/{template['id']}", headers=world.headers("auditor")).json()["status"] == "retired"
        assert_problem(act(client, world, template["id"], "retire", "gold"), 409)

    def test_translations_go_with_the_original(self, client, world):
        template = approved(client, world)
        urdu = client.post(f"{URL}/{template['id']}/translations", headers=world.headers("comms"),
                           json={"language": "ur", "title": "سڑک", "body": "پولیس {location} پر ہے۔ {time}"}).json()
        act(client, world, template["id"], "retire", "gold")
        assert client.get(f"{URL}/{urdu['id']}", headers=world.headers("gold")).json()["status"] == "retired"
        assert len(audit_events("template.retired")) == 2


class TestNewVersion:
    def test_approved_version_stays_live_until_the_new_one_is_approved(self, client, world):
        template = approved(client, world, author="comms", approver="gold")
        response = client.post(f"{URL}/{template['id']}/versions", headers=world.headers("bronze"),
                               json={"body": "Road at {location} reopens at {time}."})
        assert response.status_code == 201, response.text
        revised = response.json()
        assert revised["status"] == "draft" and revised["usable"] is True and revised["version_number"] == 1
        assert revised["pending_version"]["number"] == 2
        old_text = render(client, world, template["id"]).json()["text"]
        assert old_text.startswith("Officers are at Bull Street.")
        officer_view = client.get(f"{URL}/{template['id']}", headers=world.headers("officer")).json()
        assert officer_view["pending_version"] is None and officer_view["versions"] is None
        act(client, world, template["id"], "submit", "bronze")
        assert render(client, world, template["id"]).json()["text"].startswith("Officers are at")
        # comms wrote the template (though not this version): still not their review
        assert_problem(act(client, world, template["id"], "approve", "comms", {}), 403)
        assert act(client, world, template["id"], "approve", "gold", {}).status_code == 200
        assert render(client, world, template["id"]).json()["text"] == "Road at Bull Street reopens at 15:30."
        versions = client.get(f"{URL}/{template['id']}", headers=world.headers("gold")).json()["versions"]
        assert [(v["number"], v["status"]) for v in versions] == [(1, "superseded"), (2, "approved")]
        assert len(audit_events("template.version_created")) == 1

    def test_bad_new_version_changes_nothing(self, client, world):
        template = approved(client, world)
        assert_problem(client.post(f"{URL}/{template['id']}/versions", json={"body": "At {nowhere}"},
                                   headers=world.headers("comms")), 422)
        assert_problem(client.post(f"{URL}/{template['id']}/versions", json={},
                                   headers=world.headers("comms")), 422)
        assert_problem(client.post(f"{URL}/{template['id']}/versions", json={"title": "x"},
                                   headers=world.headers("officer")), 403)
        assert client.get(f"{URL}/{template['id']}", headers=world.headers("comms")).json()["status"] == "approved"
        assert audit_events("template.version_created") == []

    def test_pending_cannot_be_revised(self, client, world):
        template = create(client, world)
        act(client, world, template["id"], "submit", "comms")
        assert_problem(client.post(f"{URL}/{template['id']}/versions", json={"title": "x"},
                                   headers=world.headers("comms")), 409)


class TestTranslations:
    URDU = {"language": "ur", "title": "سڑک دوبارہ کھلنا", "body": "پولیس {location} پر ہے۔ سڑک {time} بجے کھلے گی۔",
            "slots": [{"name": "location", "kind": "text", "max_length": 60},
                      {"name": "time", "kind": "choice", "choices": ["14:00", "15:30", "مارچ کے اختتام پر"]}]}

    def test_each_variant_is_approved_on_its_own(self, client, world):
        original = approved(client, world)
        response = client.post(f"{URL}/{original['id']}/translations", json=self.URDU, headers=world.headers("bronze"))
        assert response.status_code == 201, response.text
        urdu = response.json()
        assert (urdu["translation_of"], urdu["direction"], urdu["status"]) == (original["id"], "rtl", "draft")
        assert_problem(client.get(f"{URL}/{urdu['id']}", headers=world.headers("officer")), 404)
        listed = client.get(f"{URL}/{original['id']}", headers=world.headers("officer")).json()
        assert listed["translations"] == []
        act(client, world, urdu["id"], "submit", "bronze")
        act(client, world, urdu["id"], "approve", "comms", {})
        listed = client.get(f"{URL}/{original['id']}", headers=world.headers("officer")).json()
        assert [(t["language"], t["direction"]) for t in listed["translations"]] == [("ur", "rtl")]
        result = render(client, world, urdu["id"], slots={"location": "بل اسٹریٹ", "time": "مارچ کے اختتام پر"})
        assert result.status_code == 201, result.text
        assert result.json()["text"] == "پولیس بل اسٹریٹ پر ہے۔ سڑک مارچ کے اختتام پر بجے کھلے گی۔"
        assert result.json()["direction"] == "rtl"

    def test_same_slots_as_the_original(self, client, world):
        original = approved(client, world)
        bad = {**self.URDU, "body": "پولیس {place}", "slots": [{"name": "place", "kind": "text"}]}
        assert_problem(client.post(f"{URL}/{original['id']}/translations", json=bad,
                                   headers=world.headers("comms")), 422)

    def test_one_variant_per_language(self, client, world):
        original = approved(client, world)
        client.post(f"{URL}/{original['id']}/translations", json=self.URDU, headers=world.headers("comms"))
        assert_problem(client.post(f"{URL}/{original['id']}/translations", json=self.URDU,
                                   headers=world.headers("comms")), 409)
        assert_problem(client.post(f"{URL}/{original['id']}/translations", json={**self.URDU, "language": "en"},
                                   headers=world.headers("comms")), 409)
        assert len(audit_events("template.created")) == 2

    def test_officer_may_not_translate(self, client, world):
        original = approved(client, world)
        assert_problem(client.post(f"{URL}/{original['id']}/translations", json=self.URDU,
                                   headers=world.headers("officer")), 403)
