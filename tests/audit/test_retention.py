"""Retention: archiving exports first, then removes detail while every hash stays, so the chain still
verifies end to end; the archiving is audited; no path deletes audit data without an export."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.audit.chain import ARCHIVED_DETAILS
from app.audit.offline import verify_export
from app.audit.retention import archive_due
from app.audit.service import AuditFilter, iter_chain, iter_rows, verify_chain
from app.audit.signing import public_key_bytes
from app.core.db import get_engine, session_scope
from app.core.types import utcnow
from tests.audit.helpers import add_events, tamper


def _set(client, world, days, role="admin", operation_id=None):
    return client.put(f"/api/v1/audit/retention/{operation_id or world.op.id}", headers=world.headers(role),
                      json={"retain_days": days})


def _archive(settings, tmp_path, days_later: int = 40):
    with session_scope() as session:
        return archive_due(session, settings=settings, now=utcnow() + timedelta(days=days_later),
                           out_dir=tmp_path / "archive")


class TestSetRetention:
    def test_admin_sets_and_it_is_audited(self, client, world):
        response = _set(client, world, 30)
        assert response.status_code == 200, response.text
        assert response.json()["retain_days"] == 30
        got = client.get(f"/api/v1/audit/retention/{world.op.id}", headers=world.headers("auditor")).json()
        assert got["retain_days"] == 30
        events = client.get("/api/v1/audit/events", headers=world.headers("auditor"),
                            params={"action": "audit.retention_set"}).json()["events"]
        assert len(events) == 1 and events[0]["details"] == {"from": None, "to": 30}

    def test_null_keeps_for_ever(self, client, world):
        _set(client, world, 30)
        assert _set(client, world, None).json()["retain_days"] is None

    @pytest.mark.parametrize("role", ["auditor", "gold", "bronze", "officer"])
    def test_other_roles_refused(self, client, world, role):
        assert _set(client, world, 30, role=role).status_code == 403

    @pytest.mark.parametrize("body", [{"retain_days": 0}, {"retain_days": "soon"}, {"days": 3}, {}])
    def test_bad_body(self, client, world, body):
        response = client.put(f"/api/v1/audit/retention/{world.op.id}", headers=world.headers("admin"), json=body)
        assert response.status_code == 422

    def test_unknown_operation(self, client, world):
        assert _set(client, world, 30, operation_id=uuid.uuid4()).status_code == 404


class TestArchive:
    def test_exports_first_then_redacts_keeping_hashes(self, client, world, settings, tmp_path):
        add_events(4, actor=world["bronze"], operation_id=world.op.id, details={"text": "sensitive"})
        add_events(2, actor=world["other_bronze"], operation_id=world.other_op.id)
        _set(client, world, 30)
        with session_scope() as session:
            before = {e["seq"]: e for e in iter_chain(session)}
        ours = [s for s, e in before.items() if e["operation_id"] == str(world.op.id)]
        assert len(ours) == 5  # the four decisions and the retention setting itself
        results = _archive(settings, tmp_path)
        assert len(results) == 1 and results[0].count == 5
        # the export came first and proves the removed detail
        verdict = verify_export(results[0].file, public_key_bytes(settings))
        assert verdict.ok, verdict.findings
        assert b"sensitive" in results[0].file.read_bytes()
        with session_scope() as session:
            after = {e["seq"]: e for e in iter_chain(session)}
            report = verify_chain(session, settings)
        for seq, event in before.items():
            assert after[seq]["hash"] == event["hash"]
            expected = ARCHIVED_DETAILS if seq in ours else event["details"]
            assert after[seq]["details"] == expected
        assert report.ok, report
        assert report.archived_events == len(ours)
        archived = [e for e in after.values() if e["action"] == "audit.archived"]
        assert len(archived) == 1 and archived[0]["details"]["count"] == 5
        assert archived[0]["details"]["file_sha256"] == results[0].sha256

    def test_nothing_twice_and_nothing_without_retention(self, client, world, settings, tmp_path):
        add_events(2, operation_id=world.op.id)
        assert _archive(settings, tmp_path) == []  # no retention set: kept
        _set(client, world, 30)
        assert len(_archive(settings, tmp_path)) == 1
        assert _archive(settings, tmp_path) == []

    def test_not_yet_due(self, client, world, settings, tmp_path):
        add_events(2, operation_id=world.op.id)
        _set(client, world, 30)
        assert _archive(settings, tmp_path, days_later=10) == []

    def test_export_after_archiving_still_verifies_offline(self, client, world, settings, tmp_path):
        add_events(3, actor=world["bronze"], operation_id=world.op.id)
        _set(client, world, 30)
        _archive(settings, tmp_path)
        response = client.get("/api/v1/audit/export", headers=world.headers("auditor"), params={"format": "jsonl"})
        path = tmp_path / "after.jsonl"
        path.write_bytes(response.content)
        verdict = verify_export(path, public_key_bytes(settings))
        assert verdict.ok, verdict.findings
        assert verdict.archived == 4 and "archived under retention" in verdict.summary()

    def test_archived_row_changed_later_is_detected(self, client, world, settings, tmp_path):
        add_events(3, actor=world["bronze"], operation_id=world.op.id)
        _set(client, world, 30)
        _archive(settings, tmp_path)
        tamper("UPDATE audit_event SET actor_id = :someone WHERE seq = 2", someone=str(uuid.uuid4()))
        with session_scope() as session:
            report = verify_chain(session, settings)
        assert report.ok is False and "changed after archiving" in report.problem

    def test_redaction_without_an_archive_event_is_detected(self, world, settings):
        """An attacker can list a seq in audit_archived (no trigger stops an INSERT) and redact it:
        verify answers that no audit.archived event names it."""
        add_events(3, actor=world["bronze"])
        with session_scope() as session:
            archive_id = uuid.uuid4()
            from app.audit.models import AuditArchive, AuditArchived

            session.add(AuditArchive(id=archive_id, operation_id="x", cutoff=utcnow(), count=1, first_seq=2,
                                     last_seq=2, file_name="none", sha256="0" * 64))
            session.flush()
            session.add(AuditArchived(seq=2, archive_id=archive_id))
        with get_engine().begin() as connection:
            connection.execute(text("UPDATE audit_event SET details = '{\"archived\": true}' WHERE seq = 2"))
        with session_scope() as session:
            report = verify_chain(session, settings)
        assert report.ok is False and report.first_bad_seq == 2

    def test_the_trigger_allows_only_the_marker(self, client, world, settings, tmp_path):
        add_events(3, actor=world["bronze"], operation_id=world.op.id)
        _set(client, world, 30)
        _archive(settings, tmp_path)
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as connection:
            connection.execute(text("UPDATE audit_event SET details = '{\"archived\": true}', action = 'auth.login' "
                                    "WHERE seq = 1"))
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as connection:
            connection.execute(text("UPDATE audit_event SET details = '{\"other\": 1}' WHERE seq = 1"))
        with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as connection:
            connection.execute(text("DELETE FROM audit_event WHERE seq = 1"))

    def test_cli_archive(self, client, world, settings, tmp_path):
        from typer.testing import CliRunner

        from app.cli import cli

        add_events(2, operation_id=world.op.id)
        _set(client, world, 1)
        result = CliRunner().invoke(cli, ["audit", "archive", "--out", str(tmp_path / "a")])
        assert result.exit_code == 0, result.output
        # retention of 1 day: today's events are not due yet
        assert "nothing is past its retention" in result.output
        with session_scope() as session:
            assert list(iter_rows(session, filters=AuditFilter(operation_id=world.op.id)))
