"""GET /audit/export, /audit/export/manifest, /audit/public-key, and the offline verifier on real exports."""

import csv
import io
import json
import uuid

import pytest

from app.audit.chain import EXPORT_FIELDS, GENESIS_HASH, canonical, event_hash
from app.audit.offline import b64url_decode, signature_ok, verify_export
from tests.audit.helpers import add_events


def _events(client, headers, **params):
    return client.get("/api/v1/audit/events", headers=headers, params={"limit": 1000, **params}).json()["events"]


def _export(client, world, **params):
    response = client.get("/api/v1/audit/export", headers=world.headers("auditor"), params=params)
    assert response.status_code == 200, response.text
    return response


def _public_key(client, world) -> bytes:
    response = client.get("/api/v1/audit/public-key", headers=world.headers("auditor"))
    assert response.status_code == 200, response.text
    return b64url_decode(response.json()["public_key"])


class TestExportJsonLines:
    def test_complete_export_verifies_and_is_the_events_as_hashed(self, client, world, tmp_path):
        add_events(5, actor=world["bronze"], operation_id=world.op.id)
        response = _export(client, world, format="jsonl")
        assert response.headers["content-type"].startswith("application/x-ndjson")
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("attachment;") and ".jsonl" in disposition and "seq1-" in disposition
        lines = response.content.splitlines()
        events, manifest = [json.loads(line) for line in lines[:-1]], json.loads(lines[-1])
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        for line, event in zip(lines[:-1], events, strict=True):
            assert line == canonical(event)  # exactly the bytes that were hashed, plus the hash
            assert event_hash(event) == event["hash"]
        assert manifest["type"] == "manifest" and manifest["complete"] is True
        assert manifest["count"] == len(events) == int(response.headers["x-audit-count"])
        assert manifest["first_seq"] == 1 and manifest["prev_hash"] == GENESIS_HASH
        assert manifest["head_seq"] == manifest["last_seq"] and manifest["head_hash"] == events[-1]["hash"]
        assert manifest["exported_by"]["id"] == str(world["auditor"].id)
        assert signature_ok(manifest, _public_key(client, world))
        path = tmp_path / "export.jsonl"
        path.write_bytes(response.content)
        assert verify_export(path, _public_key(client, world)).ok

    def test_export_is_audited_with_filters_and_count(self, client, world):
        add_events(3, actor=world["bronze"], operation_id=world.op.id)
        before = _events(client, world.headers("auditor"), action="audit.exported")
        _export(client, world, format="jsonl", operation_id=str(world.op.id))
        exported = _events(client, world.headers("auditor"), action="audit.exported")
        assert len(exported) == len(before) + 1
        details = exported[-1]["details"]
        assert exported[-1]["actor_id"] == str(world["auditor"].id)
        assert details["format"] == "jsonl" and details["count"] == 3
        assert details["filters"]["operation_id"] == str(world.op.id)

    def test_seq_range_is_complete_and_links_from_the_previous_hash(self, client, world, tmp_path):
        add_events(10, actor=world["bronze"])
        all_events = _events(client, world.headers("auditor"))
        response = _export(client, world, format="jsonl", from_seq=4, to_seq=7)
        manifest = json.loads(response.content.splitlines()[-1])
        assert (manifest["first_seq"], manifest["last_seq"], manifest["count"]) == (4, 7, 4)
        assert manifest["complete"] is True and manifest["seqs"] == [[4, 7]]
        assert manifest["prev_hash"] == all_events[2]["hash"]
        path = tmp_path / "range.jsonl"
        path.write_bytes(response.content)
        assert verify_export(path, _public_key(client, world)).ok

    def test_filtered_export_says_so_and_lists_each_seq(self, client, world, tmp_path):
        add_events(3, actor=world["bronze"], operation_id=world.op.id)
        add_events(2, actor=world["other_bronze"], operation_id=world.other_op.id)
        add_events(2, actor=world["bronze"], operation_id=world.op.id)
        response = _export(client, world, format="jsonl", actor_id=str(world["bronze"].id))
        manifest = json.loads(response.content.splitlines()[-1])
        assert manifest["complete"] is False and manifest["prev_hash"] is None
        assert "cannot prove that no other" in manifest["scope"]
        ours = [e["seq"] for e in _events(client, world.headers("auditor"), actor_id=str(world["bronze"].id))]
        listed = [seq for first, last in manifest["seqs"] for seq in range(first, last + 1)]
        assert listed == ours and len(listed) == 5
        path = tmp_path / "officer.jsonl"
        path.write_bytes(response.content)
        verdict = verify_export(path, _public_key(client, world))
        assert verdict.ok, verdict.findings
        assert "filtered" in verdict.summary()


    def test_an_exercise_is_marked_as_such(self, client, world):
        from tests.factories import make_operation

        drill = make_operation(name="Op Drill", exercise=True)
        add_events(2, actor=world["bronze"], operation_id=drill.id)
        response = _export(client, world, format="jsonl", operation_id=str(drill.id))
        assert 'filename="EXERCISE_parley-audit_op-' in response.headers["content-disposition"]
        assert json.loads(response.content.splitlines()[-1])["exercise"] is True
        live = _export(client, world, format="jsonl", operation_id=str(world.op.id))
        assert "EXERCISE" not in live.headers["content-disposition"]
        assert "exercise" not in json.loads(live.content.splitlines()[-1])


class TestExportCsv:
    def test_csv_with_manifest_endpoint_verifies(self, client, world, tmp_path):
        add_events(4, actor=world["bronze"], operation_id=world.op.id,
                   details={"text": 'quote " comma , newline \n and Zoë', "n": 1})
        response = _export(client, world, format="csv")
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert tuple(rows[0]) == EXPORT_FIELDS  # header row, stable column order
        assert json.loads(rows[1][EXPORT_FIELDS.index("details")])["text"].endswith("Zoë")
        manifest = client.get("/api/v1/audit/export/manifest", headers=world.headers("auditor"),
                              params={"format": "csv", "to_seq": response.headers["x-audit-to-seq"]})
        assert manifest.status_code == 200, manifest.text
        assert manifest.json()["count"] == len(rows) - 1
        (tmp_path / "e.csv").write_bytes(response.content)
        (tmp_path / "m.json").write_text(json.dumps(manifest.json()))
        verdict = verify_export(tmp_path / "e.csv", _public_key(client, world), tmp_path / "m.json")
        assert verdict.ok, verdict.findings

    def test_null_is_an_empty_cell(self, client, world):
        add_events(1)  # no actor, no operation
        rows = list(csv.reader(io.StringIO(_export(client, world, format="csv").content.decode())))
        assert rows[1][EXPORT_FIELDS.index("actor_id")] == ""
        assert rows[1][EXPORT_FIELDS.index("operation_id")] == ""


class TestExportBadInput:
    @pytest.mark.parametrize("params", [
        {"format": "xml"},
        {"since": "2026-11-26T10:00:00Z", "until": "2026-11-26T09:00:00Z"},
        {"from_seq": 9, "to_seq": 3},
        {"since": "yesterday"},
        {"action": "no.such_action"},
        {"from_seq": -1},
    ])
    def test_clear_4xx(self, client, world, params):
        response = client.get("/api/v1/audit/export", headers=world.headers("auditor"), params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_unknown_operation_is_404_and_nothing_is_recorded(self, client, world):
        before = _events(client, world.headers("auditor"), action="audit.exported")
        response = client.get("/api/v1/audit/export", headers=world.headers("auditor"),
                              params={"operation_id": str(uuid.uuid4())})
        assert response.status_code == 404
        assert _events(client, world.headers("auditor"), action="audit.exported") == before

    @pytest.mark.parametrize("role", ["officer", "bronze", "gold", "comms", "admin"])
    def test_only_auditors_export(self, client, world, role):
        for path in ("/api/v1/audit/export", "/api/v1/audit/export/manifest"):
            assert client.get(path, headers=world.headers(role)).status_code == 403

    def test_anonymous(self, client):
        assert client.get("/api/v1/audit/export").status_code == 401


class TestSearchAndTotals:
    def test_free_text_over_action_target_and_details(self, client, world):
        add_events(2, actor=world["bronze"], details={"text": "Crowd near Zoë's café"})
        add_events(3, actor=world["bronze"], details={"text": "all quiet"})
        headers = world.headers("auditor")
        assert len(_events(client, headers, q="zoë's CAFÉ".lower())) == 2
        assert len(_events(client, headers, q="ALL QUIET")) == 3
        assert len(_events(client, headers, q="d-1")) >= 1  # target id
        assert len(_events(client, headers, q="decision.recorded")) == 5
        assert _events(client, headers, q="100%_") == []  # LIKE wildcards are literal

    def test_totals_by_action(self, client, world):
        add_events(3, actor=world["bronze"], operation_id=world.op.id)
        add_events(2, actor=world["bronze"], operation_id=world.op.id, action="escalation.created")
        response = client.get("/api/v1/audit/totals", headers=world.headers("auditor"),
                              params={"operation_id": str(world.op.id)})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 5
        assert {t["action"]: t["count"] for t in body["by_action"]} == {"decision.recorded": 3,
                                                                        "escalation.created": 2}

    def test_totals_refused_to_officers(self, client, world):
        assert client.get("/api/v1/audit/totals", headers=world.headers("officer")).status_code == 403

    def test_events_reversed_seq_range(self, client, world):
        response = client.get("/api/v1/audit/events", headers=world.headers("auditor"),
                              params={"from_seq": 5, "to_seq": 2})
        assert response.status_code == 422


class TestPublicKey:
    def test_same_key_as_cli_and_signs_manifests(self, client, world, settings):
        from app.audit import signing

        body = client.get("/api/v1/audit/public-key", headers=world.headers("auditor")).json()
        assert body["public_key"] == signing.public_key_b64(settings)
        assert len(b64url_decode(body["public_key"])) == 32
        key_file = settings.data_dir / signing.KEY_FILE
        assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600

    def test_officer_refused(self, client, world):
        assert client.get("/api/v1/audit/public-key", headers=world.headers("officer")).status_code == 403
