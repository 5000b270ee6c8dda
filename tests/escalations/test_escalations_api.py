"""The escalation endpoints as officers and Bronze use them (HTTP, real database, both engines)."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.core.db import session_scope
from app.core.types import iso, utcnow
from app.escalations import service as escalation_service
from app.escalations.models import Escalation, EscalationGroup
from tests.dbutil import engine_name
from tests.escalations.helpers import close_operation, report, transition
from tests.helpers import assert_problem, audit_actions, audit_events

MOSQUE = "The police have closed the mosque on Bull Street"


def count_escalations() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Escalation))


class TestCreateEscalation:
    def test_anonymous(self, client, world):
        response = client.post(f"/api/v1/operations/{world.op.id}/escalations", json={"client_id": "x1"})
        assert_problem(response, 401)

    def test_officer_not_in_the_operation_gets_404_and_nothing_is_recorded(self, client, world):
        assert_problem(report(client, world, "outsider", expect=None), 404)
        assert_problem(report(client, world, "officer", operation=world.other_op, expect=None), 404)
        assert count_escalations() == 0 and audit_actions("escalation.created") == []

    def test_gold_who_is_not_a_member_may_look_but_not_report(self, client, world):
        assert_problem(report(client, world, "gold", operation=world.other_op, expect=None), 403)

    def test_one_tap_needs_only_a_client_id(self, client, world):
        body = report(client, world, client_id="tap-1")
        assert body["client_id"] == "tap-1" and body["status"] == "new" and body["category"] == "other"
        assert body["summary"] is None and body["group_size"] == 1 and body["reporter_id"] == str(world["officer"].id)
        events = audit_events("escalation.created")
        assert len(events) == 1 and events[0].target_id == body["id"]
        assert events[0].actor_id == str(world["officer"].id) and events[0].operation_id == str(world.op.id)

    def test_full_report_is_stored_as_given(self, client, world):
        text = "<script>alert('x')</script> “crowd” 🚨 near the mosque  "
        observed = iso(utcnow() - timedelta(minutes=3))
        body = report(client, world, summary=text, category="community_tension",
                      source_url="https://x.com/someone/status/1234?s=20", lat=52.48, lon=-1.89, accuracy_m=12.5,
                      observed_at=observed)
        assert body["summary"] == text  # stored exactly; the PWA renders it with textContent
        assert body["source_url"] == "https://x.com/someone/status/1234?s=20"
        assert (body["lat"], body["lon"], body["accuracy_m"]) == (52.48, -1.89, 12.5)
        assert body["observed_at"] == observed and body["category"] == "community_tension"

    def test_same_client_id_again_returns_the_same_report_and_records_nothing(self, client, world):
        first = report(client, world, client_id="outbox-7", summary=MOSQUE)
        again = client.post(f"/api/v1/operations/{world.op.id}/escalations",
                            json={"client_id": "outbox-7", "summary": MOSQUE}, headers=world.headers("officer"))
        assert again.status_code == 200 and again.json()["id"] == first["id"]
        assert count_escalations() == 1 and len(audit_events("escalation.created")) == 1

    def test_same_client_id_with_a_different_body_is_refused(self, client, world):
        report(client, world, client_id="outbox-8", summary=MOSQUE)
        problem = assert_problem(report(client, world, client_id="outbox-8", summary="something else",
                                        expect=None), 422)
        assert "client_id" in problem["detail"]
        assert count_escalations() == 1

    def test_another_officer_may_use_the_same_client_id(self, client, world):
        mine = report(client, world, "officer", client_id="same")
        theirs = report(client, world, "officer2", client_id="same")
        assert mine["id"] != theirs["id"]

    def test_closed_operation_refuses_new_reports_but_replays_old_ones(self, client, world):
        first = report(client, world, client_id="before-close")
        close_operation(world.op.id)
        assert_problem(report(client, world, client_id="after-close", expect=None), 409)
        replay = report(client, world, client_id="before-close", expect=200)
        assert replay["id"] == first["id"]

    @pytest.mark.parametrize("body, where", [
        ({}, "client_id"),
        ({"client_id": ""}, "client_id"),
        ({"client_id": "has space"}, "client_id"),
        ({"client_id": "x" * 65}, "client_id"),
        ({"client_id": "c", "category": "alien_invasion"}, "category"),
        ({"client_id": "c", "lat": 91, "lon": 0}, "lat"),
        ({"client_id": "c", "lat": -90.5, "lon": 0}, "lat"),
        ({"client_id": "c", "lat": 10, "lon": 181}, "lon"),
        ({"client_id": "c", "lat": 10}, "lon"),
        ({"client_id": "c", "accuracy_m": 5}, "accuracy_m"),
        ({"client_id": "c", "source_url": "javascript:alert(1)"}, "source_url"),
        ({"client_id": "c", "source_url": "ftp://files.example/x"}, "source_url"),
        ({"client_id": "c", "source_url": "not a link"}, "source_url"),
        ({"client_id": "c", "summary": "x" * 2001}, "summary"),
        ({"client_id": "c", "summary": "nul\x00byte"}, "summary"),
        ({"client_id": "c", "observed_at": "2026-11-26T10:00:00"}, "observed_at"),
        ({"client_id": "c", "observed_at": "yesterday"}, "observed_at"),
        ({"client_id": "c", "reporter_id": str(uuid.uuid4())}, "reporter_id"),
    ])
    def test_bad_input_is_a_clear_422_and_records_nothing(self, client, world, body, where):
        response = client.post(f"/api/v1/operations/{world.op.id}/escalations", json=body,
                               headers=world.headers("officer"))
        problem = assert_problem(response, 422)
        assert where in problem["detail"] or any(where in ".".join(e["loc"]) for e in problem["errors"]), problem
        assert count_escalations() == 0 and audit_actions("escalation.created") == []

    def test_observed_far_in_the_future_is_refused(self, client, world):
        future = iso(utcnow() + timedelta(hours=2))
        assert_problem(report(client, world, observed_at=future, expect=None), 422)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(summary=st.text(max_size=300), url_path=st.text(max_size=60))
    def test_any_text_is_stored_or_refused_cleanly(self, client, world, summary, url_path):
        body = {"client_id": uuid.uuid4().hex, "summary": summary,
                "source_url": "https://example.org/" + url_path}
        response = client.post(f"/api/v1/operations/{world.op.id}/escalations", json=body,
                               headers=world.headers("officer"))
        assert response.status_code in (201, 422), response.text
        if response.status_code == 201:
            assert response.json()["summary"] == summary


class TestConcurrentRetries:
    @pytest.mark.parametrize("operation_lock", [True, False], ids=["with-lock", "constraint-only"])
    def test_fifty_concurrent_submissions_of_one_client_id_make_one_report(self, client, other_instance, world,
                                                                           monkeypatch, operation_lock):
        if not operation_lock:  # prove the unique constraints hold on their own: a clash is a 409, never a 500
            monkeypatch.setattr(escalation_service, "_operation_lock", lambda session, operation_id: [])
        headers = world.headers("officer")
        body = {"client_id": "burst-1", "summary": MOSQUE, "category": "police_action"}

        def submit(n):  # to two instances of the app, as to two server processes
            return (client, other_instance)[n % 2].post(f"/api/v1/operations/{world.op.id}/escalations", json=body,
                                                        headers=headers)

        with ThreadPoolExecutor(max_workers=25) as pool:
            responses = list(pool.map(submit, range(50)))
        statuses = sorted(r.status_code for r in responses)
        accepted = [r for r in responses if r.status_code in (200, 201)]
        if operation_lock:
            assert statuses == [200] * 49 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
        else:  # without the lock (PostgreSQL) a repeat that ran alongside the first clashes with it at the commit
            assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 409}, statuses
            for clash in (r for r in responses if r.status_code == 409):
                assert_problem(clash, 409)
        assert len({r.json()["id"] for r in accepted}) == 1
        assert count_escalations() == 1
        assert len(audit_events("escalation.created")) == 1
        with session_scope() as session:  # nothing of the losers was kept: one group of one
            assert session.execute(select(EscalationGroup.size)).scalars().all() == [1]


@pytest.mark.skipif(engine_name() != "postgresql",
                    reason="SQLite's one write lock serialises whole reports: nothing can come in between")
class TestReportsInBetween:
    """PostgreSQL: a report reads grouping's costly candidates before it takes the operation's lock. What is
    recorded in between is still seen: here another officer's report, sent while the first is paused there, to
    another instance of the app (within one, an operation's reports wait for each other's batch: see the intake)."""

    def _pause(self, monkeypatch, method: str, during):
        original = getattr(escalation_service._Grouping, method)

        def paused(grouping, *args, **kwargs):
            if not during.done:
                during.done = True
                during()
            return original(grouping, *args, **kwargs)

        during.done = False
        monkeypatch.setattr(escalation_service._Grouping, method, paused)

    @pytest.mark.parametrize("first_read", ["every text", "cut short"])
    def test_a_similar_report_recorded_before_the_lock_is_grouped_with(self, client, world, monkeypatch,
                                                                       first_read, other_instance):
        report(client, world, "officer2", summary="All buses cancelled in the city centre")
        if first_read == "cut short":  # as when the window holds more distinct texts than are compared
            monkeypatch.setattr(escalation_service, "CANDIDATE_LIMIT", 1)
        self._pause(monkeypatch, "score", lambda: report(other_instance, world, "officer2", summary=MOSQUE))
        mine = report(client, world, "officer", summary="the police closed the mosque on Bull Street!")
        with session_scope() as session:
            rows = session.execute(select(Escalation.group_id, Escalation.seq).order_by(Escalation.seq)).all()
        assert len({group for group, _seq in rows[1:]}) == 1 and mine["group_size"] == 2
        assert [seq for _group, seq in rows] == [1, 2, 3]  # numbered in the order recorded

    def test_the_same_client_id_used_in_another_operation_meanwhile_is_a_409_and_nothing_is_kept(
            self, client, world, monkeypatch):
        from tests.factories import add_member

        add_member(world.other_op, world["officer"], "officer", "Serial 3")
        self._pause(monkeypatch, "find", lambda: report(client, world, operation=world.other_op,
                                                        client_id="outbox-9", summary="Tanks on Broad Street"))
        clash = report(client, world, client_id="outbox-9", summary=MOSQUE, expect=None)
        assert_problem(clash, 409)
        assert count_escalations() == 1  # the other operation's, recorded first
        assert len(audit_events("escalation.created")) == 1
        with session_scope() as session:
            assert session.execute(select(func.count()).select_from(EscalationGroup)).scalar() == 1
        again = report(client, world, client_id="outbox-9", summary=MOSQUE, expect=None)  # sent again: told why
        assert "client_id" in assert_problem(again, 422)["detail"]


class TestNumbering:
    def test_reports_are_numbered_in_their_operation_in_the_order_recorded(self, client, world):
        from tests.factories import add_member

        add_member(world.other_op, world["officer"], "officer", "Serial 3")
        ids = [report(client, world, summary=text)["id"] for text in (MOSQUE, "Tanks on Broad Street", None)]
        elsewhere = [report(client, world, operation=world.other_op)["id"] for _ in range(2)]
        report(client, world, client_id="same", summary="Fire at the Bullring")
        report(client, world, client_id="same", summary="Fire at the Bullring", expect=200)  # a repeat: no number
        with session_scope() as session:
            numbers = dict(session.execute(select(Escalation.id, Escalation.seq)).all())
        assert [numbers[uuid.UUID(i)] for i in ids] == [1, 2, 3]
        assert [numbers[uuid.UUID(i)] for i in elsewhere] == [1, 2]
        assert sorted(numbers.values()) == [1, 1, 2, 2, 3, 4]


class TestGrouping:
    def test_same_rumour_from_six_officers_is_one_queue_row_with_every_report(self, client, world):
        from tests.factories import add_member, auth_headers, make_user

        texts = [MOSQUE, "mosque closed by police!!", "heard the police closed the mosque",
                 "Police have closed the mosque on Bull St", "police closed mosque", "mosque closed by the police?"]
        ids = [report(client, world, "officer", summary=texts[0])["id"]]
        for text in texts[1:]:
            colleague = make_user("officer")
            add_member(world.op, colleague, "officer", "Serial 3")
            response = client.post(f"/api/v1/operations/{world.op.id}/escalations",
                                   json={"client_id": uuid.uuid4().hex, "summary": text},
                                   headers=auth_headers(colleague))
            ids.append(response.json()["id"])
        report(client, world, "officer2", summary="Bus routes cancelled in the city centre")
        queue = client.get(f"/api/v1/operations/{world.op.id}/escalation-queue", headers=world.headers("bronze"))
        assert queue.status_code == 200
        rows = queue.json()
        assert [row["size"] for row in rows] == [6, 1]  # the bigger rumour first
        assert sorted(m["id"] for m in rows[0]["members"]) == sorted(ids)
        assert rows[0]["summary"] == MOSQUE and rows[0]["first_reported_at"] <= rows[0]["latest_reported_at"]

    def test_same_link_groups_whatever_the_text_and_tracking(self, client, world):
        first = report(client, world, source_url="https://twitter.com/a/status/99?s=20&t=xyz", summary="video")
        second = report(client, world, "officer2", source_url="https://mobile.x.com/b/status/99",
                        summary="entirely different words")
        assert second["group_id"] == first["group_id"] and second["group_size"] == 2

    def test_shortened_link_joins_the_group_of_the_link_it_expands_to(self, client, world):
        full = report(client, world, source_url="https://www.youtube.com/watch?v=abc123&feature=share")
        expanded = report(client, world, "officer2", source_url="https://t.co/Zz9",
                          summary="this one https://youtu.be/abc123 is going round")
        only_short = report(client, world, "officer2", source_url="https://t.co/Zz9")
        assert full["group_id"] == expanded["group_id"] == only_short["group_id"]

    def test_similar_text_far_apart_in_place_or_time_stays_separate(self, client, world):
        here = report(client, world, summary=MOSQUE, lat=52.4800, lon=-1.8900)
        two_km_away = report(client, world, "officer2", summary=MOSQUE, lat=52.4980, lon=-1.8900)
        nearby_now = report(client, world, "officer2", summary=MOSQUE,
                               observed_at=iso(utcnow() - timedelta(minutes=0)), lat=52.4801, lon=-1.8901)
        earlier = report(client, world, summary=MOSQUE, observed_at=iso(utcnow() - timedelta(minutes=70)))
        assert two_km_away["group_id"] != here["group_id"]
        assert nearby_now["group_id"] == here["group_id"]  # 10 m away, now: same rumour
        assert earlier["group_id"] not in (here["group_id"], two_km_away["group_id"])

    def test_a_match_behind_many_newer_near_misses_is_still_found(self, client, world):
        """Grouping reads the latest reports of a similar text first and the rest of the window only if none
        matches: 25 newer reports in a corner of the search box (inside the box, 1.3 km away) must not hide
        the older one right here."""
        here = report(client, world, summary=MOSQUE, lat=52.4800, lon=-1.8900)
        corner = [report(client, world, "officer2", summary=MOSQUE, lat=52.4885, lon=-1.8761) for _ in range(25)]
        assert {r["group_id"] for r in corner} != {here["group_id"]}
        again = report(client, world, summary=MOSQUE, lat=52.4801, lon=-1.8901)
        assert again["group_id"] == here["group_id"]

    def test_different_claims_about_one_place_stay_separate(self, client, world):
        fight = report(client, world, summary="fight at New Street station")
        fire = report(client, world, "officer2", summary="fire at New Street station")
        assert fight["group_id"] != fire["group_id"]

    def test_report_joining_a_ruled_rumour_is_told_the_ruling_at_once(self, client, world):
        first = report(client, world, summary=MOSQUE)
        transition(client, world, first["id"], to="resolved", outcome="false", note="The mosque is open.")
        late = report(client, world, "officer2", summary=MOSQUE)
        assert late["group_id"] == first["group_id"]
        assert (late["status"], late["outcome"], late["ruling_note"]) == ("resolved", "false", "The mosque is open.")


class TestListEscalations:
    def test_officers_see_their_own_reports_only(self, client, world):
        mine = report(client, world, summary=MOSQUE)
        report(client, world, "officer2", summary=MOSQUE)
        listed = client.get(f"/api/v1/operations/{world.op.id}/escalations", headers=world.headers("officer"))
        assert listed.status_code == 200 and [e["id"] for e in listed.json()] == [mine["id"]]

    def test_command_sees_every_report(self, client, world):
        report(client, world, summary="one thing here")
        report(client, world, "officer2", summary="another claim entirely")
        for who in ("bronze", "gold"):
            listed = client.get(f"/api/v1/operations/{world.op.id}/escalations", headers=world.headers(who))
            assert len(listed.json()) == 2

    def test_comms_and_strangers(self, client, world):
        assert client.get(f"/api/v1/operations/{world.op.id}/escalations",
                          headers=world.headers("comms")).json() == []
        assert_problem(client.get(f"/api/v1/operations/{world.op.id}/escalations",
                                  headers=world.headers("outsider")), 404)
        assert_problem(client.get(f"/api/v1/operations/{world.op.id}/escalations",
                                  headers=world.headers("other_bronze")), 404)

    def test_filters_by_status_and_since(self, client, world):
        first = report(client, world, summary="first rumour about a fire")
        report(client, world, summary="second rumour about kettling people")
        transition(client, world, first["id"], to="acknowledged")
        url = f"/api/v1/operations/{world.op.id}/escalations"
        acknowledged = client.get(url, params={"status": "acknowledged"}, headers=world.headers("bronze")).json()
        assert [e["id"] for e in acknowledged] == [first["id"]]
        mine_changed = client.get(url, params={"since": acknowledged[0]["updated_at"]},
                                  headers=world.headers("officer")).json()
        assert [e["id"] for e in mine_changed] == [first["id"]]  # the officer's outbox polls with since
        assert client.get(url, params={"since": iso(utcnow() + timedelta(minutes=1))},
                          headers=world.headers("bronze")).json() == []
        assert_problem(client.get(url, params={"status": "lost"}, headers=world.headers("bronze")), 422)

    def test_queue_is_for_command_only(self, client, world):
        url = f"/api/v1/operations/{world.op.id}/escalation-queue"
        assert_problem(client.get(url, headers=world.headers("officer")), 403)
        assert_problem(client.get(url, headers=world.headers("outsider")), 404)
        assert client.get(url, headers=world.headers("gold")).status_code == 200


class TestGetEscalation:
    def test_reporter_sees_status_outcome_ruling_and_counter_template(self, client, world):
        from tests.templates.builders import approved

        template = approved(client, world, operation_id=str(world.op.id))
        mine = report(client, world, summary=MOSQUE)
        transition(client, world, mine["id"], to="acknowledged", note="internal: checking with Silver")
        transition(client, world, mine["id"], to="resolved", outcome="false", note="The mosque is open as usual.",
                   counter_template_id=template["id"])
        seen = client.get(f"/api/v1/escalations/{mine['id']}", headers=world.headers("officer")).json()
        assert (seen["status"], seen["outcome"]) == ("resolved", "false")
        assert seen["ruling_note"] == "The mosque is open as usual."
        assert seen["counter_template_id"] == template["id"]
        assert seen["group"] is None  # officers do not see who else reported it
        notes = [h["note"] for h in seen["history"]]
        assert "internal: checking with Silver" not in notes and "The mosque is open as usual." in notes

    def test_command_sees_the_group_and_the_full_history(self, client, world):
        mine = report(client, world, summary=MOSQUE)
        report(client, world, "officer2", summary=MOSQUE)
        transition(client, world, mine["id"], to="acknowledged", note="checking")
        seen = client.get(f"/api/v1/escalations/{mine['id']}", headers=world.headers("bronze")).json()
        assert seen["group"]["size"] == 2 and len(seen["group"]["members"]) == 2
        assert [h["action"] for h in seen["history"]] == ["created", "created", "transitioned"]
        assert seen["history"][-1]["note"] == "checking" and seen["history"][-1]["actor_name"] == "bronze"

    def test_others_get_404(self, client, world):
        mine = report(client, world, summary=MOSQUE)
        for who in ("officer2", "outsider", "other_bronze", "comms"):
            assert_problem(client.get(f"/api/v1/escalations/{mine['id']}", headers=world.headers(who)), 404)
        assert_problem(client.get(f"/api/v1/escalations/{uuid.uuid4()}", headers=world.headers("bronze")), 404)


class TestTransition:
    def test_officer_may_not_triage_even_their_own(self, client, world):
        mine = report(client, world)
        assert_problem(transition(client, world, mine["id"], "officer", expect=None, to="acknowledged"), 403)
        assert_problem(transition(client, world, mine["id"], "officer2", expect=None, to="acknowledged"), 404)
        assert_problem(transition(client, world, mine["id"], "other_bronze", expect=None, to="acknowledged"), 404)
        assert audit_actions("escalation.transitioned") == []

    def test_the_whole_path_with_assignment_writes_one_audit_event_each(self, client, world):
        mine = report(client, world, summary=MOSQUE)
        transition(client, world, mine["id"], to="acknowledged", assignee_id=str(world["gold"].id))
        transition(client, world, mine["id"], to="investigating", note="asking the imam")
        done = transition(client, world, mine["id"], to="resolved", outcome="true", note="It is closed.").json()
        assert done["status"] == "resolved" and done["outcome"] == "true"
        assert done["group"]["assignee_id"] == str(world["gold"].id)
        events = audit_events("escalation.transitioned")
        assert [(e.details["from"], e.details["to"]) for e in events] == [
            ("new", "acknowledged"), ("acknowledged", "investigating"), ("investigating", "resolved")]
        assert all(e.actor_id == str(world["bronze"].id) for e in events)

    @pytest.mark.parametrize("path, body", [
        (["acknowledged"], {"to": "acknowledged"}),
        ([], {"to": "investigating"}),
        (["resolved"], {"to": "acknowledged"}),
        (["resolved"], {"to": "resolved", "outcome": "true"}),
        ([], {"to": "resolved"}),  # no outcome
        ([], {"to": "acknowledged", "outcome": "false"}),
    ])
    def test_wrong_moves_are_409_and_change_nothing(self, client, world, path, body):
        mine = report(client, world)
        for step in path:
            extra = {"outcome": "false"} if step == "resolved" else {}
            transition(client, world, mine["id"], to=step, **extra)
        before = len(audit_events())
        assert_problem(transition(client, world, mine["id"], expect=None, **body), 409)
        assert len(audit_events()) == before

    @pytest.mark.parametrize("body", [
        {"to": "flying"},
        {"to": "resolved", "outcome": "maybe"},
        {"to": "resolved", "outcome": "duplicate"},  # duplicate of what?
        {"to": "resolved", "outcome": "false", "duplicate_of": str(uuid.uuid4())},
        {"to": "acknowledged", "assignee_id": str(uuid.uuid4())},
        {"to": "resolved", "outcome": "false", "counter_template_id": str(uuid.uuid4())},
        {"to": "acknowledged", "counter_template_id": str(uuid.uuid4())},
    ])
    def test_bad_bodies_are_422(self, client, world, body):
        mine = report(client, world)
        assert_problem(transition(client, world, mine["id"], expect=None, **body), 422)
        assert audit_actions("escalation.transitioned") == []

    def test_assignee_from_another_operation_is_refused(self, client, world):
        mine = report(client, world)
        assert_problem(transition(client, world, mine["id"], expect=None, to="acknowledged",
                                  assignee_id=str(world["other_bronze"].id)), 422)

    def test_resolving_a_group_resolves_every_report_in_it(self, client, world):
        mine = report(client, world, summary=MOSQUE)
        theirs = report(client, world, "officer2", summary=MOSQUE)
        transition(client, world, theirs["id"], to="resolved", outcome="unverified", note="Cannot confirm yet.")
        for who, escalation in (("officer", mine), ("officer2", theirs)):
            seen = client.get(f"/api/v1/escalations/{escalation['id']}", headers=world.headers(who)).json()
            assert (seen["status"], seen["outcome"], seen["ruling_note"]) == (
                "resolved", "unverified", "Cannot confirm yet.")
        assert len(audit_events("escalation.transitioned")) == 1

    def test_duplicate_names_the_other_rumour_and_takes_its_counter_template(self, client, world):
        from tests.templates.builders import approved

        template = approved(client, world, operation_id=str(world.op.id))
        original = report(client, world, summary="Tanks on Corporation Street")
        transition(client, world, original["id"], to="resolved", outcome="false",
                   counter_template_id=template["id"])
        copy = report(client, world, "officer2", summary="army vehicles seen in the city")
        done = transition(client, world, copy["id"], to="resolved", outcome="duplicate",
                          duplicate_of=original["id"]).json()
        assert done["duplicate_of"] == original["group_id"] and done["counter_template_id"] == template["id"]
        assert_problem(transition(client, world, report(client, world)["id"], expect=None, to="resolved",
                                  outcome="duplicate", duplicate_of=str(world.op.id)), 422)

    def test_closed_operation_is_read_only(self, client, world):
        mine = report(client, world)
        close_operation(world.op.id)
        assert_problem(transition(client, world, mine["id"], expect=None, to="acknowledged"), 409)


class TestAssignAndNotes:
    def test_assign_and_note_are_recorded(self, client, world):
        mine = report(client, world)
        url = f"/api/v1/escalations/{mine['id']}"
        assigned = client.post(f"{url}/assign", json={"assignee_id": str(world["comms"].id)},
                               headers=world.headers("bronze"))
        assert assigned.status_code == 200 and assigned.json()["group"]["assignee_id"] == str(world["comms"].id)
        noted = client.post(f"{url}/notes", json={"note": "Comms drafting a reply"}, headers=world.headers("gold"))
        assert noted.status_code == 200 and noted.json()["history"][-1]["note"] == "Comms drafting a reply"
        assert audit_actions("escalation.assigned") == ["escalation.assigned"]
        assert audit_actions("escalation.note_added") == ["escalation.note_added"]
        assert_problem(client.post(f"{url}/notes", json={"note": ""}, headers=world.headers("bronze")), 422)
        assert_problem(client.post(f"{url}/notes", json={"note": "x"}, headers=world.headers("officer")), 403)


class TestMergeAndSplit:
    def test_merge_two_groups_then_split_one_out(self, client, world):
        first = report(client, world, summary="Tanks on Corporation Street")
        second = report(client, world, "officer2", summary="army vehicles seen in the city")
        assert first["group_id"] != second["group_id"]
        merged = client.post(f"/api/v1/escalations/{second['id']}/merge", json={"into": first["id"]},
                             headers=world.headers("bronze"))
        assert merged.status_code == 200, merged.text
        assert merged.json()["group_id"] == first["group_id"] and merged.json()["group"]["size"] == 2
        queue = client.get(f"/api/v1/operations/{world.op.id}/escalation-queue",
                           headers=world.headers("bronze")).json()
        assert [row["size"] for row in queue] == [2]
        split = client.post(f"/api/v1/escalations/{second['id']}/split", json={"note": "different claim"},
                            headers=world.headers("bronze"))
        assert split.status_code == 200 and split.json()["group_id"] not in (first["group_id"], second["group_id"])
        queue = client.get(f"/api/v1/operations/{world.op.id}/escalation-queue",
                           headers=world.headers("bronze")).json()
        assert sorted(row["size"] for row in queue) == [1, 1]
        assert audit_actions("escalation.merged") == ["escalation.merged"]
        assert audit_actions("escalation.split") == ["escalation.split"]

    def test_refusals(self, client, world):
        lone = report(client, world, summary="one claim about a fire")
        other = report(client, world, "officer2", summary="other claim about a march")
        url = f"/api/v1/escalations/{lone['id']}"
        assert_problem(client.post(f"{url}/split", json={}, headers=world.headers("bronze")), 409)
        assert_problem(client.post(f"{url}/merge", json={"into": lone["group_id"]},
                                   headers=world.headers("bronze")), 409)
        assert_problem(client.post(f"{url}/merge", json={"into": str(uuid.uuid4())},
                                   headers=world.headers("bronze")), 422)
        assert_problem(client.post(f"{url}/merge", json={"into": other["id"]}, headers=world.headers("officer")), 403)
        transition(client, world, other["id"], to="resolved", outcome="false")
        assert_problem(client.post(f"{url}/merge", json={"into": other["id"]}, headers=world.headers("bronze")), 409)
        assert audit_actions("escalation.merged") == [] and audit_actions("escalation.split") == []


class TestRulingReachesReporters:
    def test_each_reporter_gets_the_ruling_and_counter_template_in_their_inbox(self, client, world):
        from tests.templates.builders import approved

        template = approved(client, world, operation_id=str(world.op.id))
        mine = report(client, world, summary=MOSQUE)
        theirs = report(client, world, "officer2", summary=MOSQUE)
        report(client, world, "officer2", summary="mosque closed by police")  # a second report, one message
        transition(client, world, mine["id"], to="resolved", outcome="false", note="The mosque is open as usual.",
                   counter_template_id=template["id"])
        for who, escalation in (("officer", mine), ("officer2", theirs)):
            inbox = client.get(f"/api/v1/operations/{world.op.id}/notifications", headers=world.headers(who))
            assert inbox.status_code == 200, inbox.text
            rulings = [n for n in inbox.json() if n.get("kind") == "rumour_ruling"]
            assert len(rulings) == 1, inbox.json()
            ruling = rulings[0]
            assert ruling["title"] == "Rumour ruled FALSE" and "The mosque is open as usual." in ruling["body"]
            assert ruling["ref"] == {"escalation_id": escalation["id"], "counter_template_id": template["id"]}
        bronze_inbox = client.get(f"/api/v1/operations/{world.op.id}/notifications", headers=world.headers("gold"))
        assert all(n.get("kind") != "rumour_ruling" or n["ref"]["escalation_id"] in (mine["id"], theirs["id"])
                   for n in bronze_inbox.json())

    def test_nothing_is_sent_before_the_ruling(self, client, world):
        mine = report(client, world, summary=MOSQUE)
        transition(client, world, mine["id"], to="acknowledged")
        inbox = client.get(f"/api/v1/operations/{world.op.id}/notifications", headers=world.headers("officer"))
        assert [n for n in inbox.json() if n.get("kind") == "rumour_ruling"] == []
