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
