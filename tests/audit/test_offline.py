"""`parley audit verify-export`: each tampering case is detected and reported with its position, by the
CLI run as a separate process with no database configured (it must need only file, manifest and key)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.helpers import add_events

ROOT = Path(__file__).resolve().parents[2]


def _download(client, world, tmp_path, fmt: str, **params) -> tuple[Path, Path | None, str]:
    headers = world.headers("auditor")
    response = client.get("/api/v1/audit/export", headers=headers, params={"format": fmt, **params})
    assert response.status_code == 200, response.text
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(response.content)
    manifest = None
    if fmt == "csv":
        body = client.get("/api/v1/audit/export/manifest", headers=headers,
                          params={"format": "csv", "to_seq": response.headers["x-audit-to-seq"], **params}).json()
        manifest = tmp_path / "manifest.json"
        manifest.write_text(json.dumps(body))
    key = client.get("/api/v1/audit/public-key", headers=headers).json()["public_key"]
    return path, manifest, key


def run_cli(path: Path, key: str, manifest: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI in a fresh process whose environment names no database and an unusable data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update({"PARLEY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                "PARLEY_DATA_DIR": "/nonexistent/parley"})
    args = [sys.executable, "-m", "app.cli", "audit", "verify-export", str(path), "--public-key", key]
    if manifest is not None:
        args += ["--manifest", str(manifest)]
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"\n".join(lines))


@pytest.fixture
def jsonl_export(client, world, tmp_path):
    add_events(12, actor=world["bronze"], operation_id=world.op.id)
    return _download(client, world, tmp_path, "jsonl")


@pytest.fixture
def csv_export(client, world, tmp_path):
    add_events(12, actor=world["bronze"], operation_id=world.op.id, details={"text": "line one\nline two"})
    return _download(client, world, tmp_path, "csv")


def test_the_verifier_imports_no_database_layer():
    code = ("import sys, app.audit.offline; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'psycopg', 'fastapi')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


class TestJsonLines:
    def test_intact_export_verifies_with_no_database(self, jsonl_export):
        path, _, key = jsonl_export
        result = run_cli(path, key)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("VERIFIED: 12 events, seq 1..12")
        assert "complete and contiguous" in result.stdout

    def test_one_byte_changed(self, jsonl_export):
        path, _, key = jsonl_export
        lines = _lines(path)
        lines[4] = lines[4].replace(b'"n":5', b'"n":6')
        _write(path, lines)
        result = run_cli(path, key)
        assert result.returncode == 1
        assert "FAILED (first bad line: 5)" in result.stdout
        assert "line 5: seq 5: the content does not match its hash" in result.stdout
        assert "SHA-256 of the exported bytes does not match" in result.stdout

    @pytest.mark.parametrize("position", range(0, 400, 37))
    def test_any_single_byte_flip_is_caught(self, jsonl_export, position):
        path, _, key = jsonl_export
        data = bytearray(path.read_bytes())
        data[position] ^= 0x01
        path.write_bytes(bytes(data))
        result = run_cli(path, key)
        assert result.returncode == 1 and "line 1:" in result.stdout  # the first line spans the first bytes

    def test_a_line_removed(self, jsonl_export):
        path, _, key = jsonl_export
        lines = _lines(path)
        del lines[6]
        _write(path, lines)
        result = run_cli(path, key)
        assert result.returncode == 1
        assert "line 7: expected seq 7 here but found seq 8" in result.stdout

    def test_two_lines_swapped(self, jsonl_export):
        path, _, key = jsonl_export
        lines = _lines(path)
        lines[2], lines[3] = lines[3], lines[2]
        _write(path, lines)
        result = run_cli(path, key)
        assert result.returncode == 1
        assert "line 3: expected seq 3 here but found seq 4" in result.stdout

    def test_tail_cut(self, jsonl_export):
        path, _, key = jsonl_export
        lines = _lines(path)
        _write(path, lines[:9])  # the manifest and the last events gone
        result = run_cli(path, key)
        assert result.returncode == 1
        assert "line 10: the file ends after line 9 without its manifest line" in result.stdout

    def test_tail_cut_but_manifest_kept(self, jsonl_export):
        path, _, key = jsonl_export
        lines = _lines(path)
        _write(path, lines[:8] + lines[-2:])  # events 9..12 gone, the manifest line kept
        result = run_cli(path, key)
        assert result.returncode == 1
        assert "line 9: the file ends here but the manifest lists seq 9" in result.stdout

    def test_manifest_from_another_export(self, client, world, jsonl_export, tmp_path):
        path, _, key = jsonl_export
        other_dir = tmp_path / "other"
        other_dir.mkdir()
        other, _, _ = _download(client, world, other_dir, "jsonl", from_seq=1, to_seq=5)
        lines = _lines(path)
        lines[-2] = _lines(other)[-2]  # a genuine, validly signed manifest, of another export
        _write(path, lines)
        result = run_cli(path, key)
        assert result.returncode == 1
        assert "line 6: seq 6 is not listed in the manifest" in result.stdout
        assert "SHA-256 of the exported bytes does not match" in result.stdout

    def test_manifest_edited(self, jsonl_export):
        path, _, key = jsonl_export
        lines = _lines(path)
        manifest = json.loads(lines[-2])
        manifest["count"] = 11
        lines[-2] = json.dumps(manifest).encode()
        _write(path, lines)
        result = run_cli(path, key)
        assert result.returncode == 1 and "signature is not valid" in result.stdout

    def test_wrong_key(self, jsonl_export):
        path, _, _ = jsonl_export
        result = run_cli(path, "A" * 43)
        assert result.returncode == 1 and "signed by key" in result.stdout

    def test_key_from_a_file(self, jsonl_export, tmp_path):
        path, _, key = jsonl_export
        key_file = tmp_path / "audit.pub"
        key_file.write_text(key + "\n")
        assert run_cli(path, str(key_file)).returncode == 0

    def test_unusable_key_is_exit_2(self, jsonl_export):
        path, _, _ = jsonl_export
        result = run_cli(path, "not-a-key")
        assert result.returncode == 2 and "public key" in result.stderr


class TestCsv:
    def test_intact_export_verifies(self, csv_export):
        path, manifest, key = csv_export
        result = run_cli(path, key, manifest)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_needs_its_manifest(self, csv_export):
        path, _, key = csv_export
        result = run_cli(path, key)
        assert result.returncode == 1 and "needs its manifest" in result.stdout

    def test_one_byte_changed(self, csv_export):
        path, manifest, key = csv_export
        text = path.read_bytes()
        at = text.index(b",decision,d-4,") + len(b",decision,d-")  # seq 4's target id (not inside a uuid)
        path.write_bytes(text[:at] + b"5" + text[at + 1:])
        result = run_cli(path, key, manifest)
        assert result.returncode == 1
        assert "seq 4: the content does not match its hash" in result.stdout

    def test_a_row_removed(self, csv_export):
        path, manifest, key = csv_export
        rows = path.read_bytes().split(b"\r\n")
        # each event spans two physical lines (its details hold a newline): drop event 3
        text = path.read_bytes()
        start = text.index(b"\r\n3,")
        end = text.index(b"\r\n4,")
        path.write_bytes(text[:start] + text[end:])
        result = run_cli(path, key, manifest)
        assert result.returncode == 1 and rows
        assert "expected seq 3 here but found seq 4" in result.stdout

    def test_two_rows_swapped(self, csv_export):
        path, manifest, key = csv_export
        text = path.read_bytes()
        a, b, c = text.index(b"\r\n5,"), text.index(b"\r\n6,"), text.index(b"\r\n7,")
        path.write_bytes(text[:a] + text[b:c] + text[a:b] + text[c:])
        result = run_cli(path, key, manifest)
        assert result.returncode == 1 and "expected seq 5 here but found seq 6" in result.stdout

    def test_tail_cut(self, csv_export):
        path, manifest, key = csv_export
        text = path.read_bytes()
        path.write_bytes(text[:text.index(b"\r\n10,") + 2])
        result = run_cli(path, key, manifest)
        assert result.returncode == 1 and "the manifest lists seq 10" in result.stdout

    def test_manifest_from_another_export(self, client, world, csv_export, tmp_path):
        path, _, key = csv_export
        other_dir = tmp_path / "other"
        other_dir.mkdir()
        _, other_manifest, _ = _download(client, world, other_dir, "csv", from_seq=2)
        result = run_cli(path, key, other_manifest)
        assert result.returncode == 1
        assert "expected seq 2 here but found seq 1" in result.stdout
