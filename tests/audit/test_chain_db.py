"""The chain in the database: the append-only trigger, verify finding tampering (edited row, deleted
row, cut tail, rewritten chain) against hashes and signed checkpoints, and concurrent writers."""

import json
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.audit import checkpoints
from app.audit.chain import GENESIS_HASH, event_hash
from app.audit.models import AuditCheckpoint
from app.audit.service import iter_chain, verify_chain
from app.core.db import get_engine, session_scope
from tests.audit.helpers import add_events, is_postgres, tamper, triggers_dropped


def _verify(client, world) -> dict:
    response = client.get("/api/v1/audit/verify", headers=world.headers("auditor"))
    assert response.status_code == 200, response.text
    return response.json()


class TestAppendOnlyTrigger:
    @pytest.mark.parametrize("statement", [
        "UPDATE audit_event SET action = 'auth.login' WHERE seq = 2",
        "UPDATE audit_event SET details = '{\"archived\": true}' WHERE seq = 2",  # not authorised by an archive
        "DELETE FROM audit_event WHERE seq = 2",
        "DELETE FROM audit_event",
    ])
    def test_refused(self, settings, statement):
        add_events(3)
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as connection:
            connection.execute(text(statement))
        with session_scope() as session:
            assert [e["seq"] for e in iter_chain(session)] == [1, 2, 3]
            assert verify_chain(session, settings).ok

    def test_checkpoints_are_append_only_too(self, settings):
        add_events(1)
        checkpoints.write_checkpoint(settings)
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as connection:
            connection.execute(text("UPDATE audit_checkpoint SET seq = 5"))


class TestVerifyFindsTampering:
    def test_intact(self, client, world):
        add_events(5, actor=world["bronze"])
        body = _verify(client, world)
        assert body["ok"] is True and body["first_bad_seq"] is None and body["head_seq"] >= 5

    def test_edited_row(self, client, world):
        add_events(6, actor=world["bronze"])
        tamper("UPDATE audit_event SET details = :d WHERE seq = 4", d=json.dumps({"n": 4, "text": "changed"}))
        body = _verify(client, world)
        assert body["ok"] is False and body["first_bad_seq"] == 4
        assert "edited" in body["problem"]

    def test_deleted_row(self, client, world):
        add_events(6, actor=world["bronze"])
        tamper("DELETE FROM audit_event WHERE seq = 3")
        body = _verify(client, world)
        assert body["ok"] is False and body["first_bad_seq"] == 3 and "missing" in body["problem"]

    def test_cut_tail_against_checkpoints(self, client, world, settings):
        add_events(6, actor=world["bronze"])
        assert checkpoints.write_checkpoint(settings).seq == 6
        tamper("DELETE FROM audit_event WHERE seq > 4")
        body = _verify(client, world)  # the chain itself is consistent: only the checkpoint tells
        assert body["ok"] is False and body["first_bad_seq"] == 5
        assert "tail was cut" in body["problem"]

    def test_rewritten_chain_after_the_last_checkpoint(self, client, world, settings):
        """The attacker rewrites seq 3 and every later event with freshly computed, valid hashes."""
        add_events(4, actor=world["bronze"])
        checkpoints.write_checkpoint(settings)  # seq 4
        add_events(4, actor=world["bronze"])
        checkpoints.write_checkpoint(settings)  # seq 8
        _rewrite_from(3)
        with session_scope() as session:  # the rewritten chain is internally consistent
            events = list(iter_chain(session))
        assert events[2]["details"]["text"] == "rewritten"
        assert verify_chain_without_checkpoints() is True
        body = _verify(client, world)
        assert body["ok"] is False and body["first_bad_seq"] == 1  # no checkpoint before seq 4 matches
        assert "rewritten" in body["problem"]

    def test_rewrite_after_a_matching_checkpoint_names_the_next_seq(self, client, world, settings):
        add_events(4, actor=world["bronze"])
        checkpoints.write_checkpoint(settings)  # seq 4: still matches
        add_events(4, actor=world["bronze"])
        checkpoints.write_checkpoint(settings)  # seq 8: will not
        _rewrite_from(6)
        body = _verify(client, world)
        assert body["ok"] is False and body["first_bad_seq"] == 5 and body["checkpoints_checked"] == 2

    def test_checkpoint_dir_survives_deleted_checkpoint_rows(self, client, world, settings, tmp_path,
                                                               monkeypatch):
        monkeypatch.setattr(settings, "audit_checkpoint_dir", tmp_path / "worm")
        add_events(5, actor=world["bronze"])
        checkpoints.write_checkpoint(settings)
        assert len(list((tmp_path / "worm").glob("checkpoint-*.json"))) == 1
        _drop_checkpoint_rows()
        tamper("DELETE FROM audit_event WHERE seq > 2")
        body = _verify(client, world)
        assert body["first_bad_seq"] == 3 and "tail was cut" in body["problem"]

    def test_forged_checkpoint_file_is_reported(self, client, world, settings, tmp_path, monkeypatch):
        monkeypatch.setattr(settings, "audit_checkpoint_dir", tmp_path / "worm")
        add_events(3, actor=world["bronze"])
        checkpoints.write_checkpoint(settings)
        path = next((tmp_path / "worm").glob("checkpoint-*.json"))
        document = json.loads(path.read_text())
        document["seq"] = 99
        path.write_text(json.dumps(document))
        body = _verify(client, world)
        assert body["ok"] is False and "valid signature" in body["problem"]

    def test_verify_refused_to_officers(self, client, world):
        assert client.get("/api/v1/audit/verify", headers=world.headers("officer")).status_code == 403


def verify_chain_without_checkpoints() -> bool:
    with session_scope() as session:
        return verify_chain(session).ok


def _drop_checkpoint_rows() -> None:
    postgres = is_postgres()
    with get_engine().begin() as connection:
        if postgres:
            connection.execute(text("ALTER TABLE audit_checkpoint DISABLE TRIGGER USER"))
            connection.execute(text("DELETE FROM audit_checkpoint"))
            connection.execute(text("ALTER TABLE audit_checkpoint ENABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_checkpoint_no_delete"))
            connection.execute(text("DELETE FROM audit_checkpoint"))


def _rewrite_from(first_seq: int) -> None:
    """Replace events from `first_seq` on with different content and a recomputed, valid chain."""
    with session_scope() as session:
        events = list(iter_chain(session))
    prev = events[first_seq - 2]["hash"] if first_seq > 1 else GENESIS_HASH
    with triggers_dropped(), get_engine().begin() as connection:
        for event in events[first_seq - 1:]:
            event = {**event, "prev_hash": prev, "details": {**event["details"], "text": "rewritten"}}
            event["hash"] = prev = event_hash(event)
            connection.execute(text("UPDATE audit_event SET details = :d, prev_hash = :p, hash = :h WHERE seq = :s"),
                               {"d": json.dumps(event["details"]), "p": event["prev_hash"], "h": event["hash"],
                                "s": event["seq"]})


class TestCheckpoints:
    def test_written_only_when_the_chain_grew(self, settings):
        add_events(2)
        first = checkpoints.write_checkpoint(settings)
        assert first is not None and first.seq == 2
        assert checkpoints.write_checkpoint(settings) is None
        add_events(1)
        assert checkpoints.write_checkpoint(settings).seq == 3

    def test_final_checkpoint_on_shutdown(self, app, world):
        from fastapi.testclient import TestClient

        with TestClient(app) as client:
            client.post(f"/api/v1/operations/{world.op.id}/decisions", headers=world.headers("bronze"),
                        json={"decision": "Close the north gate", "rationale": "crowd density"})
        with session_scope() as session:
            head = max(e["seq"] for e in iter_chain(session))
            marks = session.scalars(select(AuditCheckpoint.seq).where(AuditCheckpoint.seq == head)).all()
        assert marks == [head]

    def test_registered_with_the_lifecycle(self):
        from app.core import lifecycle

        assert ("audit-checkpoints", checkpoints.checkpoint_loop) in lifecycle.BACKGROUND
        assert checkpoints.final_checkpoint in lifecycle.SHUTDOWN


class TestConcurrentWriters:
    def test_threads_never_fork_the_chain(self, settings, world):
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                add_events(15, actor=world["bronze"], details={"writer": n}, per_transaction=n % 3 + 1)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with session_scope() as session:
            events = list(iter_chain(session))
            verdict = verify_chain(session, settings)
        assert [e["seq"] for e in events] == list(range(1, 8 * 15 + 1))
        assert len({e["prev_hash"] for e in events}) == len(events)  # no two events share a parent
        assert verdict.ok, verdict
