"""Commendations (Bronze and Gold recognising a template use or a report) and appraisal entries."""

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.core.db import session_scope
from app.core.types import utcnow
from app.debrief.models import Appraisal, Commendation
from app.operations.models import Operation
from tests.debrief.scenario import script
from tests.factories import add_member, make_operation
from tests.helpers import assert_problem, audit_actions, audit_events

OPS = "/api/v1/operations"


def _commend(client, world, who="bronze", **body):
    return client.post(f"{OPS}/{world.op.id}/commendations", json=body, headers=world.headers(who))


def _appraise(client, world, who="officer", **body):
    return client.post(f"{OPS}/{world.op.id}/appraisals", json=body, headers=world.headers(who))


def _count(model) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model))


def _set_closed(world, days_ago: float) -> None:
    with session_scope() as session:
        operation = session.get(Operation, world.op.id)
        operation.status, operation.closed_at = "closed", utcnow() - timedelta(days=days_ago)


@pytest.fixture
def scripted(world):
    return script(world)


class TestCommend:
    def test_anonymous(self, client, world):
        assert_problem(client.post(f"{OPS}/{world.op.id}/commendations", json={}), 401)

    @pytest.mark.parametrize("who", ["officer", "comms", "auditor"])
    def test_wrong_role(self, client, world, scripted, who):
        response = _commend(client, world, who, target_type="template_use", target_id=str(scripted.uses[0]),
                            note="Good")
        assert_problem(response, 403)  # the auditor may know the operation exists: 403, not 404
        assert _count(Commendation) == 0

    def test_outsider_gets_404(self, client, world, scripted):
        assert_problem(_commend(client, world, "other_bronze", target_type="escalation",
                                target_id=str(scripted.first_reports["knife"]), note="x"), 404)

    @pytest.mark.parametrize("target_type", ["template_use", "escalation"])
    def test_valid(self, client, world, scripted, target_type):
        target = scripted.uses[2] if target_type == "template_use" else scripted.first_reports["bus"]
        response = _commend(client, world, "gold", target_type=target_type, target_id=str(target),
                            note="This reply calmed the crowd at the bus station.")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["target_id"] == str(target) and body["author_name"] == world["gold"].display_name
        assert body["target_summary"] in ("use 2", "bus report 0")
        [event] = audit_events("debrief.commendation")
        assert event.target_id == body["id"] and event.details["target_type"] == target_type
        assert event.operation_id == str(world.op.id)

    def test_something_from_another_operation_is_404_and_nothing_written(self, client, world, scripted):
        other = make_operation(name="Op Other", members=[(world["bronze"], "bronze", None)])
        # the same use, commended from an operation it does not belong to
        response = client.post(f"{OPS}/{other.id}/commendations", headers=world.headers("bronze"),
                               json={"target_type": "template_use", "target_id": str(scripted.uses[0]), "note": "x"})
        assert_problem(response, 404)
        assert_problem(client.post(f"{OPS}/{other.id}/commendations", headers=world.headers("bronze"), json={
            "target_type": "escalation", "target_id": str(scripted.first_reports["knife"]), "note": "x"}), 404)
        assert _count(Commendation) == 0 and audit_actions("debrief.commendation") == []

    def test_wrong_kind_of_target_is_404(self, client, world, scripted):
        # a template use's id given as an escalation
        assert_problem(_commend(client, world, target_type="escalation", target_id=str(scripted.uses[0]),
                                note="x"), 404)
        assert_problem(_commend(client, world, target_type="template_use", target_id=str(uuid.uuid4()),
                                note="x"), 404)

    @pytest.mark.parametrize("body", [
        {"target_type": "decision", "target_id": str(uuid.uuid4()), "note": "x"},
        {"target_type": "escalation", "target_id": "not-a-uuid", "note": "x"},
        {"target_type": "escalation", "target_id": str(uuid.uuid4()), "note": ""},
        {"target_type": "escalation", "target_id": str(uuid.uuid4()), "note": "x" * 2001},
        {"target_type": "escalation", "target_id": str(uuid.uuid4()), "note": "x", "stars": 5},
        {"target_type": "escalation"},
    ])
    def test_invalid_body_is_422(self, client, world, body):
        assert_problem(_commend(client, world, **body), 422)

    def test_after_the_debrief_window_is_409(self, client, world, scripted, settings):
        _set_closed(world, settings.debrief_window_days + 1)
        response = _commend(client, world, target_type="template_use", target_id=str(scripted.uses[0]), note="x")
        assert "debrief window" in assert_problem(response, 409)["detail"]
        assert _count(Commendation) == 0

    def test_list_is_for_command(self, client, world, scripted):
        _commend(client, world, target_type="template_use", target_id=str(scripted.uses[0]), note="Well done")
        assert [c["note"] for c in client.get(f"{OPS}/{world.op.id}/commendations",
                                              headers=world.headers("auditor")).json()] == ["Well done"]
        assert_problem(client.get(f"{OPS}/{world.op.id}/commendations", headers=world.headers("officer")), 403)


class TestAppraise:
    def test_anonymous(self, client, world):
        assert_problem(client.post(f"{OPS}/{world.op.id}/appraisals", json={"kind": "worked", "text": "x"}), 401)

    @pytest.mark.parametrize("who", ["outsider", "other_bronze"])
    def test_non_members_get_404(self, client, world, who):
        assert_problem(_appraise(client, world, who, kind="worked", text="x"), 404)

    @pytest.mark.parametrize("who", ["auditor", "admin"])
    def test_oversight_roles_are_not_members(self, client, world, who):
        assert_problem(_appraise(client, world, who, kind="worked", text="x"), 403)

    @pytest.mark.parametrize("who", ["officer", "comms", "bronze", "gold"])
    def test_any_member_may_appraise(self, client, world, who):
        response = _appraise(client, world, who, kind="change", text="Put the loudhailer script on one card.")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["author_name"] == world[who].display_name and body["anonymous"] is False
        [event] = audit_events("debrief.appraisal")
        assert event.actor_id == str(world[who].id) and event.details["kind"] == "change"

    def test_unnamed_entry_stores_no_author(self, client, world):
        response = _appraise(client, world, kind="didnt_work", text="Too many pushes at once.", anonymous=True)
        assert response.status_code == 201 and response.json()["author_name"] is None
        with session_scope() as session:
            [row] = session.scalars(select(Appraisal)).all()
            assert row.author_id is None and row.anonymous is True
        assert audit_events("debrief.appraisal")[0].actor_id == str(world["officer"].id)

    def test_planned_operation_is_409(self, client, world):
        planned = make_operation(name="Op Soon", status="planned")
        add_member(planned, world["officer"])
        response = client.post(f"{OPS}/{planned.id}/appraisals", headers=world.headers("officer"),
                               json={"kind": "worked", "text": "x"})
        assert_problem(response, 409)

    def test_closed_within_window_is_fine_and_after_it_409(self, client, world, settings):
        _set_closed(world, settings.debrief_window_days - 1)
        assert _appraise(client, world, kind="worked", text="Briefing was clear.").status_code == 201
        _set_closed(world, settings.debrief_window_days + 0.01)
        assert_problem(_appraise(client, world, kind="worked", text="Late thought."), 409)
        assert _count(Appraisal) == 1 and len(audit_events("debrief.appraisal")) == 1

    def test_window_is_configurable(self, client, world, monkeypatch):
        from app.core.config import get_settings

        monkeypatch.setenv("PARLEY_DEBRIEF_WINDOW_DAYS", "0")
        get_settings.cache_clear()
        _set_closed(world, 0.001)
        assert_problem(_appraise(client, world, kind="worked", text="x"), 409)

    @pytest.mark.parametrize("body", [
        {"kind": "meh", "text": "x"}, {"kind": "worked", "text": ""}, {"kind": "worked"},
        {"kind": "worked", "text": "x", "anonymous": "perhaps"}, {"kind": "worked", "text": "x" * 5001},
        {"kind": "worked", "text": "x", "author": "someone else"},
    ])
    def test_invalid_body_is_422(self, client, world, body):
        assert_problem(_appraise(client, world, **body), 422)
        assert _count(Appraisal) == 0

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(text=st.text(min_size=1, max_size=300))
    def test_any_text_is_kept_exactly_or_refused_cleanly(self, client, world, text):
        response = _appraise(client, world, kind="worked", text=text)
        assert response.status_code in (201, 422), response.text
        if response.status_code == 201:
            assert response.json()["text"] == text


@pytest.mark.parametrize("text", ["nul \x00 byte", "bell \x07", "   ", "\n\t"])
def test_control_characters_and_blank_text_are_422(client, world, text):
    assert_problem(_appraise(client, world, kind="worked", text=text), 422)
    assert _count(Appraisal) == 0


def test_line_breaks_and_tabs_are_kept(client, world):
    text = "Worked:\n\t- the loudhailer card\r\n- the bus station reply"
    assert _appraise(client, world, kind="worked", text=text).json()["text"] == text
