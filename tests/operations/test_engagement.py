"""Engagement permissions on Gold's strategy and Bronze's briefing, the rationale rule, and the gating
that keeps officers from using templates before they have read what applies."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.core.db import session_scope
from app.operations import engagement as rules
from app.operations import service as operation_service
from app.operations.access import operation_access
from app.operations.models import Decision, OperationDocument
from app.operations.service import BriefingRequired
from tests.factories import make_operation
from tests.helpers import assert_problem, audit_actions, audit_events

OPS = "/api/v1/operations"


def _url(world, tail=""):
    return f"{OPS}/{world.op.id}{tail}"


def _publish_strategy(client, world, engagement, text="Calm, factual, courteous."):
    response = client.put(_url(world, "/strategy"), headers=world.headers("gold"),
                          json={"text": text, "engagement": engagement})
    assert response.status_code == 200, response.text
    return response.json()


def _rules(body):
    return {rule["rule"]: rule for rule in body["engagement"]["rules"]}


class TestStrategyEngagement:
    def test_defaults_apply_when_gold_says_nothing(self, client, world):
        body = _publish_strategy(client, world, None)
        applies = {name: rule["applies"] for name, rule in _rules(body).items()}
        assert applies == {"reply_on_social_media": True, "post_proactively": False, "engage_in_person": True,
                           "share_photos": False, "template_categories": None}

    def test_rules_are_stored_resolved_and_audited(self, client, world):
        _publish_strategy(client, world, {"post_proactively": True,
                                          "template_categories": ["safety", "reassurance"]})
        with session_scope() as session:
            document = session.scalar(select(OperationDocument).where(OperationDocument.kind == "strategy"))
            assert document.engagement == {**rules.STRATEGY_DEFAULTS, "post_proactively": True,
                                           "template_categories": ["reassurance", "safety"]}
        event = audit_events("operation.strategy_published")[-1]
        assert event.details["engagement"]["post_proactively"] is True

    def test_a_new_text_keeps_the_rules(self, client, world):
        _publish_strategy(client, world, {"share_photos": True})
        body = client.patch(_url(world), json={"strategy": "Revised words."},
                            headers=world.headers("gold")).json()
        assert body["strategy_version"] == 2 and _rules(body)["share_photos"]["applies"] is True

    @pytest.mark.parametrize("engagement", [
        {"may_fly": True}, {"share_photos": "yes please"}, {"template_categories": ["Not A Slug"]},
        {"template_categories": "safety"},
    ])
    def test_bad_rules_are_422_and_nothing_is_published(self, client, world, engagement):
        response = client.put(_url(world, "/strategy"), headers=world.headers("gold"),
                              json={"text": "x", "engagement": engagement})
        assert_problem(response, 422)
        assert audit_actions("operation.strategy_published") == []

    def test_bronze_may_not_set_the_strategy(self, client, world):
        assert_problem(client.put(_url(world, "/strategy"), headers=world.headers("bronze"),
                                  json={"text": "x", "engagement": {}}), 403)


class TestBriefingRestrictions:
    def test_same_as_strategy_needs_no_rationale(self, client, world):
        _publish_strategy(client, world, {"post_proactively": True})
        response = client.put(_url(world, "/briefing"), headers=world.headers("bronze"),
                              json={"text": "Meet at 08:00.", "engagement": {"post_proactively": True}})
        assert response.status_code == 200, response.text
        assert response.json()["engagement"]["unexplained_restrictions"] == []

    def test_stricter_without_rationale_is_refused_and_nothing_written(self, client, world):
        _publish_strategy(client, world, {"post_proactively": True})
        before = audit_actions()
        response = client.put(_url(world, "/briefing"), headers=world.headers("bronze"),
                              json={"text": "No posting today.", "engagement": {"post_proactively": False}})
        body = assert_problem(response, 422)
        assert body["type"].endswith("/rationale-required")
        assert "May post proactively on social media" in body["detail"]
        assert audit_actions() == before
        with session_scope() as session:
            assert session.scalar(select(Decision)) is None
            briefing = select(OperationDocument).where(OperationDocument.kind == "briefing")
            assert session.scalar(briefing) is None

    def test_stricter_with_rationale_records_the_decision_first(self, client, world):
        _publish_strategy(client, world, {"post_proactively": True, "share_photos": True})
        response = client.put(_url(world, "/briefing"), headers=world.headers("bronze"), json={
            "text": "No photos: a minor was filmed yesterday.",
            "engagement": {"share_photos": False, "template_categories": ["safety"]},
            "rationale": "Images of children circulated last night; we will not add to them."})
        assert response.status_code == 200, response.text
        assert audit_actions()[-2:] == ["decision.recorded", "operation.briefing_published"]
        decisions = client.get(_url(world, "/decisions"), headers=world.headers("gold")).json()
        assert len(decisions) == 1
        assert decisions[0]["decision"].startswith("Briefing version 1 is stricter than Gold's strategy")
        assert "May share photos" in decisions[0]["decision"]
        engagement = response.json()["engagement"]
        assert engagement["rationale_decision_id"] == decisions[0]["id"]
        by_rule = {rule["rule"]: rule for rule in engagement["rules"]}
        assert by_rule["share_photos"] == {
            "rule": "share_photos", "label": "May share photos", "strategy": True, "briefing": False,
            "applies": False, "restricted_by_briefing": True,
            "rationale": "Images of children circulated last night; we will not add to them."}
        assert by_rule["template_categories"]["applies"] == ["safety"]
        assert by_rule["post_proactively"]["applies"] is True
        assert by_rule["post_proactively"]["restricted_by_briefing"] is False

    def test_officers_see_which_rules_apply(self, client, world):
        _publish_strategy(client, world, {"share_photos": True})
        client.put(_url(world, "/briefing"), headers=world.headers("bronze"), json={
            "text": "b", "engagement": {"share_photos": False}, "rationale": "Crowd contains children."})
        body = client.get(_url(world), headers=world.headers("officer")).json()
        share = _rules(body)["share_photos"]
        assert share["applies"] is False and share["rationale"] == "Crowd contains children."

    def test_briefing_cannot_allow_what_the_strategy_forbids(self, client, world):
        _publish_strategy(client, world, {"template_categories": ["safety"]})
        for engagement in ({"share_photos": True}, {"template_categories": ["safety", "information"]}):
            response = client.put(_url(world, "/briefing"), headers=world.headers("bronze"),
                                  json={"text": "b", "engagement": engagement})
            assert "strategy does not allow" in assert_problem(response, 422)["detail"]
        assert audit_actions("operation.briefing_published") == []

    def test_new_text_under_explained_rules_keeps_the_decision(self, client, world):
        _publish_strategy(client, world, {"share_photos": True})
        first = client.put(_url(world, "/briefing"), headers=world.headers("bronze"), json={
            "text": "v1", "engagement": {"share_photos": False}, "rationale": "Children present."}).json()
        second = client.patch(_url(world), json={"briefing": "v2, same rules"}, headers=world.headers("gold"))
        assert second.status_code == 200, second.text
        assert second.json()["briefing_version"] == 2
        decision_id = first["engagement"]["rationale_decision_id"]
        assert decision_id and second.json()["engagement"]["rationale_decision_id"] == decision_id

    def test_strategy_loosened_later_shows_the_restriction_as_unexplained(self, client, world):
        _publish_strategy(client, world, {"share_photos": False})
        client.put(_url(world, "/briefing"), headers=world.headers("bronze"),
                   json={"text": "b", "engagement": {"share_photos": False}})
        body = _publish_strategy(client, world, {"share_photos": True})
        assert body["engagement"]["unexplained_restrictions"] == ["share_photos"]
        # and a new briefing text under the same rules now needs its reason
        patched = client.patch(_url(world), json={"briefing": "b2"}, headers=world.headers("bronze"))
        assert_problem(patched, 422)
        response = client.put(_url(world, "/briefing"), headers=world.headers("bronze"),
                              json={"text": "b2", "rationale": "Photos still off: children present."})
        assert response.status_code == 200, response.text
        assert response.json()["engagement"]["unexplained_restrictions"] == []

    def test_officer_may_not_publish_a_briefing(self, client, world):
        assert_problem(client.put(_url(world, "/briefing"), headers=world.headers("officer"),
                                  json={"text": "b", "rationale": "r"}), 403)
        assert audit_actions("decision.recorded") == []


class TestEnsureBriefed:
    """What the template render calls before it renders anything."""

    def _check(self, world, who="officer", **kwargs):
        with session_scope() as session:
            access = operation_access(session, actor=world[who], operation_id=world.op.id)
            operation_service.ensure_briefed(session, access, **kwargs)

    def test_nothing_to_read_nothing_to_acknowledge(self, world):
        self._check(world)

    def test_live_operation_needs_the_current_versions_acknowledged(self, client, world):
        _publish_strategy(client, world, None)
        with pytest.raises(BriefingRequired):
            self._check(world)
        client.post(_url(world, "/briefing/ack"), headers=world.headers("officer"))
        self._check(world)
        client.put(_url(world, "/briefing"), headers=world.headers("bronze"), json={"text": "New route."})
        with pytest.raises(BriefingRequired):
            self._check(world)

    def test_planned_operation_is_not_gated(self, client, world):
        planned = make_operation(name="Op Later", status="planned",
                                 members=[(world["officer"], "officer", None), (world["gold"], "gold", None)])
        client.put(f"{OPS}/{planned.id}/strategy", headers=world.headers("gold"), json={"text": "s"})
        with session_scope() as session:
            access = operation_access(session, actor=world["officer"], operation_id=planned.id)
            operation_service.ensure_briefed(session, access)

    def test_channel_and_category_follow_the_rules_that_apply(self, client, world):
        _publish_strategy(client, world, {"reply_on_social_media": False})
        client.put(_url(world, "/briefing"), headers=world.headers("bronze"), json={
            "text": "b", "engagement": {"template_categories": ["safety"]}, "rationale": "Keep it simple."})
        client.post(_url(world, "/briefing/ack"), headers=world.headers("officer"))
        self._check(world, channel="in_person", category="safety")
        from app.core.errors import Forbidden

        with pytest.raises(Forbidden, match="reply to the public on social media"):
            self._check(world, channel="social_reply", category="safety")
        with pytest.raises(Forbidden, match="not in use"):
            self._check(world, channel="loudhailer", category="road_closures")


class TestBriefingReminder:
    URL = "/briefing/remind"

    def test_officer_may_not_remind(self, client, world):
        assert_problem(client.post(_url(world, self.URL), headers=world.headers("officer")), 403)

    def test_outsider_gets_404(self, client, world):
        assert_problem(client.post(_url(world, self.URL), headers=world.headers("other_bronze")), 404)

    def test_nobody_left_to_remind(self, client, world):
        for who in ("gold", "bronze", "comms", "officer", "officer2"):
            client.post(_url(world, "/briefing/ack"), headers=world.headers(who))
        response = client.post(_url(world, self.URL), headers=world.headers("bronze"))
        assert response.status_code == 200, response.text
        assert response.json() == {"reminded": 0, "user_ids": [], "notification_id": None}

    def test_closed_operation_is_409(self, client, world):
        client.patch(_url(world), json={"status": "closed"}, headers=world.headers("gold"))
        assert_problem(client.post(_url(world, self.URL), headers=world.headers("bronze")), 409)

    def test_reminds_everyone_who_has_not_acknowledged_by_push_and_inbox(self, client, world):
        from app.notifications.models import Notification, NotificationRecipient

        _publish_strategy(client, world, None)
        for who in ("officer", "gold"):
            client.post(_url(world, "/briefing/ack"), headers=world.headers(who))
        response = client.post(_url(world, self.URL), headers=world.headers("bronze"),
                               json={"message": "Briefing changed: read it before you go out."})
        assert response.status_code == 200, response.text
        body = response.json()
        expected = {str(world[who].id) for who in ("comms", "officer2")}  # bronze, the sender, is left out
        assert set(body["user_ids"]) == expected and body["reminded"] == 2
        with session_scope() as session:
            notification = session.get(Notification, uuid.UUID(body["notification_id"]))
            assert notification.kind == "reminder" and notification.body.startswith("Briefing changed")
            recipients = session.scalars(select(NotificationRecipient.user_id)
                                         .where(NotificationRecipient.notification_id == notification.id)).all()
            assert {str(r) for r in recipients} == expected
        assert audit_actions("notification.sent") == ["notification.sent"]
        inbox = client.get(_url(world, "/notifications"), headers=world.headers("officer2")).json()
        assert any(item.get("title") == "Read the briefing" for item in inbox), inbox

    def test_bad_message_is_422(self, client, world):
        assert_problem(client.post(_url(world, self.URL), headers=world.headers("bronze"),
                                   json={"message": ""}), 422)
        assert_problem(client.post(_url(world, self.URL), headers=world.headers("bronze"),
                                   json={"text": "x"}), 422)


# --- the pure rules, for any combination -------------------------------------------------------------

flags = st.sampled_from([None, True, False])
categories = st.none() | st.lists(st.sampled_from(["safety", "information", "reassurance", "road_closures"]),
                                  unique=True)


@st.composite
def rule_sets(draw):
    values = {name: draw(flags) for name in rules.FLAG_RULES}
    values[rules.CATEGORY_RULE] = draw(categories)
    return rules.EngagementRules(**values).model_dump(exclude_none=True)


@given(strategy=rule_sets(), briefing=rule_sets())
def test_what_applies_is_never_looser_than_either_document(strategy, briefing):
    ceiling = rules.resolve_strategy(strategy)
    applies = rules.effective_rules(ceiling, briefing)
    for name in rules.FLAG_RULES:
        assert applies[name] <= ceiling[name]
        if name in briefing:
            assert applies[name] <= briefing[name]
    allowed = applies[rules.CATEGORY_RULE]
    if ceiling[rules.CATEGORY_RULE] is not None:
        assert allowed is not None and set(allowed) <= set(ceiling[rules.CATEGORY_RULE])
    if rules.CATEGORY_RULE in briefing:
        assert set(allowed) <= set(briefing[rules.CATEGORY_RULE])


@given(strategy=rule_sets(), briefing=rule_sets())
def test_a_briefing_that_is_neither_stricter_nor_looser_changes_nothing(strategy, briefing):
    ceiling = rules.resolve_strategy(strategy)
    if not rules.stricter_rules(ceiling, briefing) and not rules.looser_rules(ceiling, briefing):
        assert rules.effective_rules(ceiling, briefing) == ceiling


class TestRenderGating:
    """Through the real render endpoint: the officer reads first, and the rules that apply hold."""

    def test_officer_must_acknowledge_before_rendering(self, client, world):
        from tests.templates.builders import approved, render

        template = approved(client, world)
        _publish_strategy(client, world, None)
        refused = assert_problem(render(client, world, template["id"]), 409)
        assert refused["type"].endswith("/briefing-not-acknowledged")
        assert audit_actions("template.used") == []
        client.post(_url(world, "/briefing/ack"), headers=world.headers("officer"))
        assert render(client, world, template["id"]).status_code in (200, 201)
        assert audit_actions("template.used") == ["template.used"]

    def test_a_category_the_briefing_took_out_is_refused(self, client, world):
        from tests.templates.builders import approved, render

        template = approved(client, world)  # road_closures, social_reply
        _publish_strategy(client, world, None)
        client.put(_url(world, "/briefing"), headers=world.headers("bronze"), json={
            "text": "Safety messages only.", "engagement": {"template_categories": ["safety"]},
            "rationale": "Roads are handled by the council's own account today."})
        client.post(_url(world, "/briefing/ack"), headers=world.headers("officer"))
        assert "not in use" in assert_problem(render(client, world, template["id"]), 403)["detail"]
        assert audit_actions("template.used") == []


@pytest.mark.parametrize("path,body", [
    ("/briefing", {"text": "route \x00 change"}),
    ("/briefing", {"text": "ok", "rationale": "\x1b[31m"}),
    ("/decisions", {"decision": "   ", "rationale": "r"}),
    ("/briefing/remind", {"message": "\x00"}),
])
def test_control_characters_and_blank_text_are_422(client, world, path, body):
    method = client.put if path == "/briefing" else client.post
    assert_problem(method(_url(world, path), json=body, headers=world.headers("bronze")), 422)
    assert audit_actions() == []
