"""The report intake: reports to one operation sent while one of its batches is being recorded go in together, in
the next transaction, and each is answered as it would have been alone."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from app.audit.service import verify_chain
from app.core.db import session_scope
from app.escalations import intake as intake_module
from app.escalations import service as escalation_service
from app.escalations.models import Escalation, EscalationGroup
from tests.dbutil import engine_name
from tests.escalations.helpers import report
from tests.helpers import assert_problem, audit_events

MOSQUE = "The police have closed the mosque on Bull Street"
SIMILAR = ["mosque closed by police!!", "heard the police closed the mosque",
           "Police have closed the mosque on Bull St", "police closed mosque", "mosque closed by the police?",
           "the mosque on Bull Street is closed by police"]


class HeldIntake:
    """Holds an instance's first batch at its start until the test lets it go, so that the reports sent meanwhile
    queue for the next one; notes the size of every batch."""

    def __init__(self, monkeypatch) -> None:
        self.sizes: list[int] = []
        self.started, self.release = threading.Event(), threading.Event()
        original = intake_module._record_batch

        def held(operation_id, batch):
            self.sizes.append(len(batch))
            if len(self.sizes) == 1:
                self.started.set()
                self.release.wait(10)
            return original(operation_id, batch)

        monkeypatch.setattr(intake_module, "_record_batch", held)

    @staticmethod
    def queued() -> int:
        return sum(len(waiting) for intake in list(intake_module._intakes.values())
                   for waiting in list(intake._waiting.values()))

    def send(self, first, *rest):
        """`first()` is held in its batch while every one of `rest` is sent and queued; then all are let go. The
        responses, in the order given."""
        with ThreadPoolExecutor(max_workers=len(rest) + 1) as pool:
            held = pool.submit(first)
            assert self.started.wait(10)
            queued = [pool.submit(send) for send in rest]
            deadline = time.monotonic() + 10
            while self.queued() < len(rest) and time.monotonic() < deadline:
                time.sleep(0.005)
            self.release.set()
            return [held.result(), *(future.result() for future in queued)]


def _officers(world, count: int) -> list:
    from tests.factories import add_member, make_user

    officers = [make_user("officer") for _ in range(count)]
    for officer in officers:
        add_member(world.op, officer, "officer", "Serial 3")
    return officers


def _send(client, world, officer=None, who: str = "officer", **body):
    from tests.factories import auth_headers

    body.setdefault("client_id", uuid.uuid4().hex)
    headers = auth_headers(officer) if officer is not None else world.headers(who)
    return lambda: client.post(f"/api/v1/operations/{world.op.id}/escalations", json=body, headers=headers)


class TestBatches:
    def test_reports_sent_during_a_batch_go_in_the_next_together_and_are_grouped_as_if_one_by_one(
            self, client, world, monkeypatch, settings):
        officers = _officers(world, len(SIMILAR))
        held = HeldIntake(monkeypatch)
        responses = held.send(_send(client, world, who="officer2", summary="Tanks seen on Broad Street"),
                              _send(client, world, summary=MOSQUE),
                              *(_send(client, world, officer, summary=text)
                                for officer, text in zip(officers, SIMILAR, strict=True)))
        assert [r.status_code for r in responses] == [201] * (len(SIMILAR) + 2), [r.text for r in responses]
        assert held.sizes == [1, len(SIMILAR) + 1]  # the second batch: every report sent while the first was held
        mosque = responses[1:]  # a rumour first heard in that batch: its reports are grouped with each other
        assert len({r.json()["group_id"] for r in mosque}) == 1
        assert sorted(r.json()["group_size"] for r in mosque) == list(range(1, len(SIMILAR) + 2))
        assert responses[0].json()["group_id"] != mosque[0].json()["group_id"]
        with session_scope() as session:
            numbers = session.execute(select(Escalation.seq)).scalars().all()
            sizes = sorted(session.execute(select(EscalationGroup.size)).scalars().all())
            assert verify_chain(session, settings).ok
        assert sorted(numbers) == list(range(1, len(SIMILAR) + 3))
        assert sizes == [1, len(SIMILAR) + 1]
        events = audit_events("escalation.created")  # each on record as its own officer's, from their address
        assert sorted(str(event.actor_id) for event in events) == sorted(
            [str(world[name].id) for name in ("officer2", "officer")] + [str(officer.id) for officer in officers])
        assert {event.ip for event in events} == {"testclient"}

    def test_a_known_rumour_heard_far_away_twice_in_one_batch_is_one_new_group(self, client, world, monkeypatch):
        here, far = {"lat": 52.4800, "lon": -1.9000}, {"lat": 52.5700, "lon": -1.9000}  # 10 km apart
        officers = _officers(world, 2)
        held = HeldIntake(monkeypatch)
        responses = held.send(_send(client, world, who="officer2", summary=MOSQUE, **here),
                              *(_send(client, world, officer, summary=MOSQUE, **far) for officer in officers))
        assert held.sizes == [1, 2]
        first, *far_away = (r.json() for r in responses)
        assert far_away[0]["group_id"] == far_away[1]["group_id"] != first["group_id"]
        assert sorted(r["group_size"] for r in far_away) == [1, 2]

    def test_a_shared_link_groups_reports_of_one_batch(self, client, world, monkeypatch):
        officers = _officers(world, 3)
        link = "https://x.com/someone/status/42?s=20"
        held = HeldIntake(monkeypatch)
        responses = held.send(_send(client, world, summary="Tanks seen on Broad Street"),
                              *(_send(client, world, officer, source_url=link) for officer in officers))
        assert held.sizes == [1, 3]
        assert len({r.json()["group_id"] for r in responses[1:]}) == 1
        assert responses[1].json()["group_id"] != responses[0].json()["group_id"]

    def test_a_refused_report_is_refused_alone_and_the_rest_of_its_batch_is_recorded(self, client, world,
                                                                                      monkeypatch):
        from tests.factories import auth_headers, make_user

        report(client, world, "officer2", client_id="used", summary="Fire at the Bullring")
        signed_out = auth_headers(world["officer"])
        with session_scope() as session:  # that phone's session ended (signed out elsewhere)
            from app.auth.models import AuthSession

            for auth_session in session.execute(select(AuthSession)).scalars():
                if auth_session.user_id == world["officer"].id:
                    auth_session.revoked_at = auth_session.created_at
        stranger = make_user("officer")
        held = HeldIntake(monkeypatch)
        responses = held.send(
            _send(client, world, who="officer2", summary=MOSQUE),
            _send(client, world, who="officer2", client_id="used", summary="Fire at the Bullring"),  # a repeat
            _send(client, world, who="officer2", client_id="used", summary="Something else"),  # reused: 422
            _send(client, world, stranger, summary=MOSQUE),  # not in the operation
            lambda: client.post(f"/api/v1/operations/{world.op.id}/escalations", headers=signed_out,
                                json={"client_id": uuid.uuid4().hex, "summary": MOSQUE}),
            _send(client, world, who="officer2", summary="police closed mosque"),
        )
        assert held.sizes[:2] == [1, 4]  # the reused client_id waits for the batch after its first use's
        assert [r.status_code for r in responses] == [201, 200, 422, 404, 401, 201], [r.text for r in responses]
        assert "client_id" in assert_problem(responses[2], 422)["detail"]
        assert responses[5].json()["group_id"] == responses[0].json()["group_id"]
        with session_scope() as session:
            reporters = session.execute(select(Escalation.reporter_id)).scalars().all()
        assert sorted(map(str, reporters)) == sorted([str(world["officer2"].id)] * 3)
        assert len(audit_events("escalation.created")) == 3

    def test_one_officers_client_id_sent_twice_at_once_is_recorded_once(self, client, world, monkeypatch):
        held = HeldIntake(monkeypatch)
        twice = _send(client, world, client_id="outbox-1", summary=MOSQUE)
        responses = held.send(_send(client, world, who="officer2", summary="Tanks seen on Broad Street"), twice, twice)
        assert held.sizes == [1, 1, 1]  # never in one batch: the second sees the first committed
        assert sorted(r.status_code for r in responses[1:]) == [200, 201]
        assert responses[1].json()["id"] == responses[2].json()["id"]
        assert len(audit_events("escalation.created")) == 2


@pytest.mark.skipif(engine_name() != "postgresql",
                    reason="SQLite's one write lock serialises whole batches: nothing can come in between")
def test_a_batch_that_clashes_at_its_commit_is_recorded_again_one_by_one(client, other_instance, world, monkeypatch):
    from tests.factories import add_member

    add_member(world.other_op, world["officer"], "officer", "Serial 3")
    held = HeldIntake(monkeypatch)
    original = escalation_service._Grouping.find

    def find(grouping, *args, **kwargs):  # in the second batch, under the lock: the same client_id used elsewhere
        if len(held.sizes) == 2 and not find.done:
            find.done = True
            report(other_instance, world, operation=world.other_op, client_id="outbox-9", summary="Tanks")
        return original(grouping, *args, **kwargs)

    find.done = False
    monkeypatch.setattr(escalation_service._Grouping, "find", find)
    responses = held.send(_send(client, world, who="officer2", summary="Fire at the Bullring"),
                          _send(client, world, client_id="outbox-9", summary=MOSQUE),
                          _send(client, world, who="officer2", summary="police closed mosque"))
    assert held.sizes[:2] == [1, 2] and find.done  # (the third: the other instance's report)
    assert [r.status_code for r in responses] == [201, 422, 201], [r.text for r in responses]
    assert "client_id" in assert_problem(responses[1], 422)["detail"]  # recorded alone, it is told why
    assert len(audit_events("escalation.created")) == 3  # the two here and the other operation's
    with session_scope() as session:
        assert session.execute(select(Escalation.client_id).where(Escalation.operation_id == world.op.id)
                               ).scalars().all().count("outbox-9") == 0


def test_a_batch_that_breaks_outside_the_database_fails_its_own_reports_and_the_next_batch_goes_on(
        client, world, monkeypatch):
    held = HeldIntake(monkeypatch)
    holding = intake_module._record_batch

    def breaking(operation_id, batch):
        if len(held.sizes) == 0:
            holding(operation_id, [])  # noted and held (a batch of none records nothing)
            raise RuntimeError("a bug in the first batch")
        return holding(operation_id, batch)

    monkeypatch.setattr(intake_module, "_record_batch", breaking)
    with pytest.raises(RuntimeError, match="a bug"):  # the test client re-raises what would be a logged 500
        held.send(_send(client, world, summary="Tanks seen on Broad Street"),
                  _send(client, world, who="officer2", summary=MOSQUE))
    assert held.sizes == [0, 1]  # the report queued behind the broken batch was still recorded, not left waiting
    with session_scope() as session:
        assert session.execute(select(Escalation.summary)).scalars().all() == [MOSQUE]
