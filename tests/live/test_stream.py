"""GET /operations/{op}/stream against a real server: live delivery, audience, Last-Event-ID replay, and
events shared between two app instances (on both engines)."""

import json
import uuid

import httpx

from app.escalations.schemas import SUMMARY_MAX
from tests.helpers import assert_problem
from tests.live.conftest import Stream


def stream_url(server, world) -> str:
    return f"{server.url}/api/v1/operations/{world.op.id}/stream"


def post_report(server, world, who="officer", **body):
    body.setdefault("client_id", uuid.uuid4().hex)
    response = httpx.post(f"{server.url}/api/v1/operations/{world.op.id}/escalations", json=body,
                          headers=world.headers(who), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


class TestStreamAccess:
    def test_anonymous_stranger_and_other_operation(self, client, world):
        url = f"/api/v1/operations/{world.op.id}/stream"
        assert_problem(client.get(url), 401)
        assert_problem(client.get(url, headers=world.headers("outsider")), 404)
        assert_problem(client.get(url, headers=world.headers("other_bronze")), 404)
        assert_problem(client.get(url, headers=world.headers("auditor")), 403)
        assert_problem(client.get(f"/api/v1/operations/{uuid.uuid4()}/stream", headers=world.headers("bronze")), 404)

    def test_signed_out_session_cannot_connect(self, client, world):
        headers = world.headers("bronze")
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
        assert_problem(client.get(f"/api/v1/operations/{world.op.id}/stream", headers=headers), 401)

    def test_catch_up_mode_replays_then_ends(self, client, world):
        first = client.post(f"/api/v1/operations/{world.op.id}/escalations", json={"client_id": "c1"},
                            headers=world.headers("officer")).json()
        response = client.get(f"/api/v1/operations/{world.op.id}/stream", params={"replay_only": "true"},
                              headers={**world.headers("bronze"), "Last-Event-ID": "0"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        assert "event: escalation.created" in response.text and first["id"] in response.text
        assert "retry: 3000" in response.text
        # an officer's catch-up holds only what they may see
        other = client.get(f"/api/v1/operations/{world.op.id}/stream", params={"replay_only": "true"},
                           headers={**world.headers("officer2"), "Last-Event-ID": "0"})
        assert "escalation.created" not in other.text


class TestLiveEvents:
    def test_subscriber_gets_created_then_missed_events_after_reconnecting(self, live_server, world):
        server = live_server()
        bronze = Stream(stream_url(server, world), world.headers("bronze"))
        assert bronze.status == 200
        created = post_report(server, world, summary="Police have closed the mosque")
        event = bronze.next()
        assert event["event"] == "escalation.created" and event["data"]["id"] == created["id"]
        assert event["data"]["summary"] == "Police have closed the mosque"
        last_seen = event["id"]
        bronze.close()

        missed = [post_report(server, world, "officer2", summary=f"claim number {n} about a fire") for n in range(3)]
        again = Stream(stream_url(server, world), world.headers("bronze"), last_event_id=last_seen)
        replayed = [again.next() for _ in missed]
        assert [e["data"]["id"] for e in replayed] == [m["id"] for m in missed]
        assert [int(e["id"]) for e in replayed] == sorted(int(e["id"]) for e in replayed)
        live = post_report(server, world, summary="after reconnecting")
        assert again.next()["data"]["id"] == live["id"]
        assert again.nothing_more(0.5)  # nothing twice
        again.close()

    def test_each_subscriber_gets_only_what_it_may_see(self, live_server, world):
        server = live_server()
        streams = {who: Stream(stream_url(server, world), world.headers(who))
                   for who in ("bronze", "gold", "officer", "officer2", "comms")}
        mine = post_report(server, world, summary="Tanks on Corporation Street")
        for who in ("bronze", "gold", "officer"):
            assert streams[who].next()["data"]["id"] == mine["id"], who
        assert streams["officer2"].nothing_more(0.5) and streams["comms"].nothing_more(0.1)

        ruled = httpx.post(f"{server.url}/api/v1/escalations/{mine['id']}/transition",
                           json={"to": "resolved", "outcome": "false", "note": "No military vehicles."},
                           headers=world.headers("bronze"), timeout=10)
        assert ruled.status_code == 200, ruled.text
        update = streams["officer"].next()
        assert update["event"] == "escalation.updated"
        assert (update["data"]["status"], update["data"]["outcome"]) == ("resolved", "false")
        assert update["data"]["ruling_note"] == "No military vehicles."
        assert streams["bronze"].next()["event"] == "escalation.updated"
        assert streams["officer2"].nothing_more(0.3)
        for stream in streams.values():
            stream.close()

    def test_signing_out_ends_the_stream(self, live_server, world):
        server = live_server()
        headers = world.headers("bronze")
        bronze = Stream(stream_url(server, world), headers)
        assert httpx.post(f"{server.url}/api/v1/auth/logout", headers=headers).status_code == 204
        assert bronze.ended.wait(5)

    def test_an_event_too_big_to_announce_whole_still_arrives_whole(self, live_server, world):
        # PostgreSQL's NOTIFY carries under 8,000 bytes: a longer event goes by id and is read back
        server = live_server()
        bronze = Stream(stream_url(server, world), world.headers("bronze"))
        summary = "سنا ہے پولیس نے مسجد بند کر دی ہے۔ " * 60  # Urdu: six bytes a letter once escaped in JSON
        created = post_report(server, world, summary=summary[:SUMMARY_MAX])
        small = post_report(server, world, "officer2", summary="Fire at the Bullring")
        event = bronze.next()
        assert event["data"]["id"] == created["id"] and event["data"]["summary"] == summary[:SUMMARY_MAX]
        assert len(json.dumps(event["data"])) > 8000
        assert bronze.next()["data"]["id"] == small["id"]
        bronze.close()

    def test_a_rolled_back_change_announces_nothing(self, live_server, world):
        server = live_server()
        bronze = Stream(stream_url(server, world), world.headers("bronze"))
        refused = httpx.post(f"{server.url}/api/v1/operations/{world.op.id}/escalations",
                             json={"client_id": "x", "lat": 100, "lon": 0}, headers=world.headers("officer"))
        assert refused.status_code == 422
        assert bronze.nothing_more(0.5)
        bronze.close()


class TestSeveralInstances:
    """PostgreSQL: LISTEN/NOTIFY. SQLite: each process polls the shared file."""

    def test_event_committed_on_one_instance_reaches_subscribers_of_another(self, live_server, world):
        first, second = live_server(), live_server()
        on_first = Stream(stream_url(first, world), world.headers("bronze"))
        on_second = Stream(stream_url(second, world), world.headers("gold"))
        created = post_report(second, world, summary="Bus station closed by protesters")
        assert on_first.next()["data"]["id"] == created["id"]
        assert on_second.next()["data"]["id"] == created["id"]
        created_on_first = post_report(first, world, "officer2", summary="Another claim about the park")
        assert on_second.next()["data"]["id"] == created_on_first["id"]
        on_first.close()
        on_second.close()
