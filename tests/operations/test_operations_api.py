import pytest

from tests.factories import make_user
from tests.helpers import assert_problem, audit_actions, audit_events

OPS = "/api/v1/operations"
NEW_OP = {"name": "Op Harbour", "starts_at": "2026-12-01T09:00:00Z", "ends_at": "2026-12-01T18:00:00Z",
          "strategy": "Calm and factual.", "briefing": "Meet at 08:00."}


class TestCreateOperation:
    def test_anonymous(self, client):
        assert_problem(client.post(OPS, json=NEW_OP), 401)

    @pytest.mark.parametrize("role", ["officer", "bronze", "comms", "auditor"])
    def test_wrong_role(self, client, world, role):
        assert_problem(client.post(OPS, json=NEW_OP, headers=world.headers(role)), 403)
        assert audit_actions("operation.created") == []

    def test_gold_creates_and_becomes_gold_of_it(self, client, world):
        response = client.post(OPS, json={**NEW_OP, "exercise": True}, headers=world.headers("gold"))
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "planned" and body["exercise"] is True and body["my_role"] == "gold"
        assert body["strategy"] == "Calm and factual." and body["strategy_version"] == 1
        assert body["briefing"] == "Meet at 08:00." and body["briefing_version"] == 1
        assert audit_actions() == ["operation.created", "operation.strategy_published",
                                   "operation.briefing_published"]

    @pytest.mark.parametrize("change", [
        {"ends_at": "2026-12-01T08:00:00Z"}, {"starts_at": "2026-12-01T09:00:00"}, {"name": ""},
        {"starts_at": "yesterday"}, {"status": "live"},
    ])
    def test_invalid(self, client, world, change):
        assert_problem(client.post(OPS, json={**NEW_OP, **change}, headers=world.headers("gold")), 422)


class TestListAndGet:
    def test_officers_see_only_their_operations(self, client, world):
        names = [o["name"] for o in client.get(OPS, headers=world.headers("officer")).json()]
        assert names == ["Op Test"]
        assert client.get(OPS, headers=world.headers("outsider")).json() == []

    @pytest.mark.parametrize("role", ["gold", "auditor", "admin"])
    def test_oversight_roles_see_all(self, client, world, role):
        names = {o["name"] for o in client.get(OPS, headers=world.headers(role)).json()}
        assert names == {"Op Test", "Op Elsewhere"}

    def test_non_member_gets_404_not_403(self, client, world):
        assert_problem(client.get(f"{OPS}/{world.op.id}", headers=world.headers("outsider")), 404)
        assert_problem(client.get(f"{OPS}/{world.op.id}", headers=world.headers("other_bronze")), 404)

    def test_member_sees_role_group_and_briefing_state(self, client, world):
        body = client.get(f"{OPS}/{world.op.id}", headers=world.headers("officer")).json()
        assert body["my_role"] == "officer" and body["my_group"] == "Serial 1"
        assert body["briefing_acknowledged"] is False

    def test_unknown_and_malformed_ids(self, client, world):
        assert_problem(client.get(f"{OPS}/00000000-0000-0000-0000-000000000000", headers=world.headers("gold")), 404)
        assert_problem(client.get(f"{OPS}/nope", headers=world.headers("gold")), 422)


class TestUpdateOperation:
    def test_gold_of_the_op_closes_it_and_it_becomes_read_only(self, client, world):
        url = f"{OPS}/{world.op.id}"
        response = client.patch(url, json={"status": "closed"}, headers=world.headers("gold"))
        assert response.status_code == 200 and response.json()["status"] == "closed"
        assert response.json()["closed_at"]
        assert_problem(client.patch(url, json={"name": "Renamed"}, headers=world.headers("gold")), 409)
        assert_problem(client.post(f"{url}/decisions", headers=world.headers("bronze"),
                                   json={"decision": "x", "rationale": "y"}), 409)
        assert_problem(client.put(f"{url}/members/{world['outsider'].id}", headers=world.headers("bronze"),
                                  json={"role": "officer"}), 409)

    def test_invalid_transition_is_409(self, client, world):
        url = f"{OPS}/{world.op.id}"
        client.patch(url, json={"status": "closed"}, headers=world.headers("gold"))
        assert_problem(client.patch(url, json={"status": "live"}, headers=world.headers("gold")), 409)

    def test_going_live_records_when(self, client, world):
        created = client.post(OPS, json=NEW_OP, headers=world.headers("gold")).json()
        live = client.patch(f"{OPS}/{created['id']}", json={"status": "live"}, headers=world.headers("gold")).json()
        assert live["status"] == "live" and live["went_live_at"]
        assert audit_actions("operation.status_changed") == ["operation.status_changed"]

    @pytest.mark.parametrize("role", ["officer", "bronze", "comms"])
    def test_members_without_gold_cannot_change_status(self, client, world, role):
        assert_problem(client.patch(f"{OPS}/{world.op.id}", json={"status": "closed"},
                                    headers=world.headers(role)), 403)

    def test_admin_may_update(self, client, world):
        response = client.patch(f"{OPS}/{world.op.id}", json={"name": "Op Renamed"}, headers=world.headers("admin"))
        assert response.status_code == 200 and response.json()["name"] == "Op Renamed"
        event = audit_events("operation.updated")[0]
        assert event.details["name"] == {"from": "Op Test", "to": "Op Renamed"}

    def test_end_before_start_is_refused(self, client, world):
        response = client.patch(f"{OPS}/{world.op.id}", json={"ends_at": "2000-01-01T00:00:00Z"},
                                headers=world.headers("gold"))
        assert_problem(response, 409)
        assert audit_actions("operation.updated") == []


class TestStrategyAndBriefing:
    def test_each_edit_is_a_new_version_and_resets_acknowledgement(self, client, world):
        url = f"{OPS}/{world.op.id}"
        client.put(f"{url}/strategy", json={"text": "v1"}, headers=world.headers("gold"))
        client.put(f"{url}/briefing", json={"text": "b1"}, headers=world.headers("bronze"))
        ack = client.post(f"{url}/briefing/ack", headers=world.headers("officer"))
        assert ack.status_code == 200 and ack.json()["strategy_version"] == 1
        assert client.get(url, headers=world.headers("officer")).json()["briefing_acknowledged"] is True
        client.put(f"{url}/briefing", json={"text": "b2"}, headers=world.headers("bronze"))
        body = client.get(url, headers=world.headers("officer")).json()
        assert body["briefing"] == "b2" and body["briefing_version"] == 2
        assert body["briefing_acknowledged"] is False

    def test_bronze_cannot_edit_gold_strategy(self, client, world):
        url = f"{OPS}/{world.op.id}"
        assert_problem(client.put(f"{url}/strategy", json={"text": "mine"}, headers=world.headers("bronze")), 403)
        assert_problem(client.patch(url, json={"strategy": "mine"}, headers=world.headers("bronze")), 403)

    def test_acknowledging_twice_records_once(self, client, world):
        url = f"{OPS}/{world.op.id}/briefing/ack"
        client.post(url, headers=world.headers("officer"))
        client.post(url, headers=world.headers("officer"))
        assert audit_actions("operation.briefing_acknowledged") == ["operation.briefing_acknowledged"]

    def test_bronze_sees_who_has_not_acknowledged(self, client, world):
        client.post(f"{OPS}/{world.op.id}/briefing/ack", headers=world.headers("officer"))
        status = client.get(f"{OPS}/{world.op.id}/briefing/status", headers=world.headers("bronze")).json()
        missing = {m["display_name"] for m in status["not_acknowledged"]}
        assert status["members"] == 5 and status["acknowledged"] == 1
        assert "officer2" in missing and "officer" not in missing

    def test_officers_cannot_see_briefing_status(self, client, world):
        assert_problem(client.get(f"{OPS}/{world.op.id}/briefing/status", headers=world.headers("officer")), 403)


class TestMembers:
    def test_bronze_adds_an_officer_to_a_serial(self, client, world):
        newcomer = make_user("officer")
        url = f"{OPS}/{world.op.id}/members/{newcomer.id}"
        response = client.put(url, json={"role": "officer", "group": "Serial 3"}, headers=world.headers("bronze"))
        assert response.status_code == 200, response.text
        assert response.json()["group"] == "Serial 3"
        assert [o["name"] for o in client.get("/api/v1/me", headers=world.headers("bronze")).json()["operations"]]
        assert audit_actions("operation.member_set") == ["operation.member_set"]
        assert client.delete(url, headers=world.headers("bronze")).status_code == 204
        assert audit_actions("operation.member_removed") == ["operation.member_removed"]

    def test_bronze_cannot_make_someone_gold(self, client, world):
        url = f"{OPS}/{world.op.id}/members/{world['officer'].id}"
        assert_problem(client.put(url, json={"role": "gold"}, headers=world.headers("bronze")), 403)

    def test_officer_cannot_manage_members(self, client, world):
        url = f"{OPS}/{world.op.id}/members/{world['officer2'].id}"
        assert_problem(client.put(url, json={"role": "bronze"}, headers=world.headers("officer")), 403)

    def test_bronze_of_another_operation_gets_404(self, client, world):
        url = f"{OPS}/{world.op.id}/members/{world['officer2'].id}"
        assert_problem(client.put(url, json={"role": "bronze"}, headers=world.headers("other_bronze")), 404)

    def test_unknown_user_and_bad_role(self, client, world):
        url = f"{OPS}/{world.op.id}/members/00000000-0000-0000-0000-000000000000"
        assert_problem(client.put(url, json={"role": "officer"}, headers=world.headers("bronze")), 404)
        url = f"{OPS}/{world.op.id}/members/{world['officer2'].id}"
        assert_problem(client.put(url, json={"role": "captain"}, headers=world.headers("bronze")), 422)

    def test_removing_a_non_member_is_404(self, client, world):
        url = f"{OPS}/{world.op.id}/members/{world['outsider'].id}"
        assert_problem(client.delete(url, headers=world.headers("bronze")), 404)


class TestDecisions:
    def test_bronze_records_and_command_and_auditor_read(self, client, world):
        url = f"{OPS}/{world.op.id}/decisions"
        body = {"decision": "Hold Serial 2 at Bull Street", "rationale": "Crowd density rising."}
        created = client.post(url, json=body, headers=world.headers("bronze"))
        assert created.status_code == 201 and created.json()["author_name"] == "bronze"
        for role in ("gold", "comms", "auditor"):
            entries = client.get(url, headers=world.headers(role)).json()
            assert [d["decision"] for d in entries] == [body["decision"]]
        assert audit_events("decision.recorded")[0].details == body

    def test_officers_cannot_read_or_write_the_decision_log(self, client, world):
        url = f"{OPS}/{world.op.id}/decisions"
        assert_problem(client.get(url, headers=world.headers("officer")), 403)
        assert_problem(client.post(url, json={"decision": "x", "rationale": "y"}, headers=world.headers("officer")),
                       403)

    def test_empty_decision_is_422(self, client, world):
        url = f"{OPS}/{world.op.id}/decisions"
        assert_problem(client.post(url, json={"decision": "", "rationale": "y"}, headers=world.headers("bronze")), 422)
