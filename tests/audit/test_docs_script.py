"""The standalone script in docs/verify-audit.md works on real exports, with nothing from Parley."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.helpers import add_events
from tests.audit.test_offline import _download

DOC = Path(__file__).resolve().parents[2] / "docs" / "verify-audit.md"


@pytest.fixture
def script(tmp_path) -> Path:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    path = tmp_path / "verify_parley_export.py"
    path.write_text(code)
    return path


def _run(script: Path, *args) -> subprocess.CompletedProcess:
    # run from an empty directory so `app` is not importable: the script must stand alone
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          cwd=script.parent, timeout=120)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_script_verifies_and_catches_an_edit(client, world, tmp_path, script, fmt):
    add_events(6, actor=world["bronze"], operation_id=world.op.id, details={"text": "Zoë said \"move\"\nnow"})
    path, manifest, key = _download(client, world, tmp_path, fmt)
    extra = [manifest] if manifest else []
    result = _run(script, path, key, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("VERIFIED: ")
    data = path.read_bytes()
    target = b'"target_id":"d-3"' if fmt == "jsonl" else b",decision,d-3,"
    assert target in data
    path.write_bytes(data.replace(target, target.replace(b"d-3", b"d-9"), 1))
    result = _run(script, path, key, *extra)
    assert result.returncode != 0 and "FAILED" in result.stderr


def test_script_rejects_a_manifest_signed_by_another_key(client, world, tmp_path, script):
    add_events(2)
    path, _, key = _download(client, world, tmp_path, "jsonl")
    lines = path.read_bytes().splitlines()
    manifest = json.loads(lines[-1])
    manifest["count"] += 1
    path.write_bytes(b"\n".join(lines[:-1] + [json.dumps(manifest).encode()]) + b"\n")
    result = _run(script, path, key)
    assert result.returncode != 0 and "signature" in result.stderr
