import os
import stat

import pytest
from pydantic import ValidationError

from app.core.config import Settings, jwt_secret


def test_production_refuses_to_start_without_secrets():
    with pytest.raises(ValidationError, match="PARLEY_JWT_SECRET"):
        Settings(env="production", database_url="postgresql+psycopg://x@y/z")


def test_production_refuses_plain_http_push():
    with pytest.raises(ValidationError, match="PUSH_ALLOW_HTTP"):
        Settings(env="production", database_url="postgresql+psycopg://x@y/z", jwt_secret="s" * 40,
                 vapid_private_key="k", audit_signing_key="a", push_allow_http=True)


def test_production_with_secrets_is_fine():
    Settings(env="production", database_url="postgresql+psycopg://x@y/z", jwt_secret="s" * 40,
             vapid_private_key="k", audit_signing_key="a")


def test_generated_key_is_private_and_stable(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    first = jwt_secret(settings)
    assert jwt_secret(settings) == first and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "data" / "jwt.key").st_mode)
    assert mode == 0o600


def test_default_database_is_sqlite_in_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url=None)
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'parley.db'}"


def test_processes_starting_together_agree_on_one_generated_secret(tmp_path):
    """Several app processes (uvicorn --workers) start at once on a new data dir: one secret for all.
    Threads stand in for them; the barrier makes every one of them find no key and generate its own."""
    import secrets
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from app.core.config import read_or_create_secret

    settings = Settings(data_dir=tmp_path / "data")
    barrier = threading.Barrier(6)

    def make() -> str:
        barrier.wait(timeout=10)
        return secrets.token_hex(16)

    with ThreadPoolExecutor(6) as pool:
        values = set(pool.map(lambda _: read_or_create_secret(settings, "shared.key", make), range(6)))
    assert values == {(tmp_path / "data" / "shared.key").read_text().strip()}
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["shared.key"]  # no drafts left behind
