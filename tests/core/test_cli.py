"""The `parley` command as an operator runs it: real subprocesses, a real server."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
PARLEY = [sys.executable, "-m", "app.cli"]


def run(args, env, stdin: str | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(PARLEY + args, env=env, input=stdin, capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


@pytest.fixture
def cli_env(settings_env):
    return {**os.environ, **settings_env}


def test_create_user_reads_the_password_from_stdin_and_can_sign_in(cli_env, client):
    result = run(["create-user", "--service-number", "ADM1", "--name", "First Admin", "--role", "admin",
                  "--password-stdin"], cli_env, stdin="a-very-long-password\n")
    assert result.returncode == 0, result.stderr
    assert "created admin ADM1" in result.stdout and "a-very-long-password" not in result.stdout
    response = client.post("/api/v1/auth/login", json={"service_number": "ADM1", "password": "a-very-long-password"})
    assert response.status_code == 200


def test_create_user_refuses_a_bad_role_and_a_short_password(cli_env):
    bad_role = run(["create-user", "--service-number", "X1", "--name", "X", "--role", "chief", "--password-stdin"],
                   cli_env, stdin="a-very-long-password\n")
    short = run(["create-user", "--service-number", "X1", "--name", "X", "--role", "admin", "--password-stdin"],
                cli_env, stdin="short\n")
    assert bad_role.returncode == 2 and "role" in bad_role.stderr
    assert short.returncode == 2 and "password" in short.stderr


def test_demo_is_idempotent_and_prints_every_role(cli_env):
    first = run(["demo"], cli_env)
    second = run(["demo"], cli_env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    for role in ("officer", "bronze", "gold", "comms", "auditor", "admin"):
        assert f" {role} " in first.stdout
    assert first.stdout.count("\n") == second.stdout.count("\n")
    verify = run(["audit", "verify"], cli_env)
    assert verify.returncode == 0 and '"ok": true' in verify.stdout


def test_demo_is_refused_in_production(cli_env):
    env = {**cli_env, "PARLEY_ENV": "production", "PARLEY_JWT_SECRET": "s" * 40, "PARLEY_VAPID_PRIVATE_KEY": "x",
           "PARLEY_AUDIT_SIGNING_KEY": "x"}
    result = run(["demo"], env)
    assert result.returncode != 0
    assert "production" in (result.stderr + result.stdout)



def test_serve_migrates_and_answers_ready(cli_env, tmp_path):
    env = {**cli_env, "PARLEY_DATA_DIR": str(tmp_path / "served")}
    if not env["PARLEY_DATABASE_URL"].startswith("postgresql"):
        env.pop("PARLEY_DATABASE_URL")  # the default: a new SQLite file in the data dir, migrated by serve
    port = free_port()
    process = subprocess.Popen(PARLEY + ["serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("server did not start")
        assert response.status_code == 200 and response.json()["status"] == "ready"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        assert (Path(env["PARLEY_DATA_DIR"]) / "jwt.key").exists()
    finally:
        process.terminate()
        process.wait(timeout=20)
