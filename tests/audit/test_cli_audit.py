"""`parley audit public-key`, `checkpoint`, `verify`, and edge cases of export files."""

import json

from typer.testing import CliRunner

from app.audit import signing
from app.audit.offline import b64url_decode, verify_export
from app.cli import cli
from tests.audit.helpers import add_events, tamper


def test_public_key_prints_the_signing_key(settings):
    result = CliRunner().invoke(cli, ["audit", "public-key"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[0]
    assert key == signing.public_key_b64(settings) and len(b64url_decode(key)) == 32


def test_configured_signing_key_is_used(settings, monkeypatch):
    seed = "A" * 43  # 32 zero bytes, base64url
    monkeypatch.setattr(settings, "audit_signing_key", seed)
    assert signing.public_key_b64(settings) == "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik"
    assert not (settings.data_dir / signing.KEY_FILE).exists()


def test_checkpoint_and_verify_commands(settings):
    add_events(3)
    runner = CliRunner()
    assert "checkpoint at seq 3" in runner.invoke(cli, ["audit", "checkpoint"]).output
    assert "no new events" in runner.invoke(cli, ["audit", "checkpoint"]).output
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"] is True
    tamper("DELETE FROM audit_event WHERE seq = 3")
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1 and json.loads(result.stdout)["first_bad_seq"] == 3


def test_an_empty_export_verifies(client, world, tmp_path, settings):
    response = client.get("/api/v1/audit/export", headers=world.headers("auditor"),
                          params={"format": "jsonl", "from_seq": 10_000})
    assert response.status_code == 200 and 'filename="parley-audit_empty.jsonl"' in response.headers[
        "content-disposition"]
    path = tmp_path / "empty.jsonl"
    path.write_bytes(response.content)
    verdict = verify_export(path, signing.public_key_bytes(settings))
    assert verdict.ok and verdict.events == 0 and verdict.manifest["count"] == 0


def test_an_empty_file_fails(tmp_path, settings):
    path = tmp_path / "nothing.jsonl"
    path.write_bytes(b"")
    verdict = verify_export(path, signing.public_key_bytes(settings))
    assert not verdict.ok and "empty" in verdict.findings[0]
