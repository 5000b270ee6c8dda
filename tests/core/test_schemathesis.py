"""Fuzz every operation in our own OpenAPI document against a real server: no input may cause a 5xx."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.factories import auth_headers
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture
def server(settings_env, world):
    port = free_port()
    env = {**os.environ, **settings_env}
    log = open(settings_env["PARLEY_DATA_DIR"] + ".server.log", "w")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("server did not start")
    yield base
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.mark.parametrize("caller", ["gold", "officer"])
def test_no_input_causes_a_server_error(server, world, caller, tmp_path):
    token = auth_headers(world[caller])["Authorization"]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", f"{server}/openapi.json",
         "-H", f"Authorization: {token}", "--checks", "not_a_server_error",
         "--phases", "examples,coverage,fuzzing", "--max-time", "40", "--seed", "7",
         "--exclude-path-regex", "logout|revoke-sessions|/stream$",
         "--request-timeout", "10", "--report-dir", str(tmp_path), "--warnings", "off"],
        capture_output=True, text=True, timeout=240,
    )
    server_errors = [line for line in Path(os.environ["PARLEY_DATA_DIR"] + ".server.log").read_text().splitlines()
                     if "unhandled_error" in line]
    assert result.returncode == 0, result.stdout[-5000:] + "\n".join(server_errors[:5])
