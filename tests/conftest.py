import os

import pytest
from fastapi.testclient import TestClient

from app.core import db as core_db
from app.core.config import get_settings
from tests.dbutil import TestDatabase, engine_name

os.environ.setdefault("PARLEY_ENV", "test")


def pytest_report_header(config):
    return f"parley database engine: {engine_name()}"


@pytest.fixture(scope="session")
def test_database(tmp_path_factory):
    database = TestDatabase(tmp_path_factory.mktemp("db"))
    yield database
    database.close()


@pytest.fixture
def settings_env(tmp_path, monkeypatch, test_database):
    """A fresh database and data directory for one test; returns the environment it set."""
    url = test_database.fresh(tmp_path)
    env = {
        "PARLEY_ENV": "test",
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "PARLEY_DATABASE_URL": url,
        "PARLEY_RUN_BACKGROUND": "false",
        "PARLEY_LOG_LEVEL": "WARNING",
        "PARLEY_PUSH_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PARLEY_PUSH_ALLOW_HTTP": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    core_db.reset_engine()
    yield env
    core_db.reset_engine()
    get_settings.cache_clear()


@pytest.fixture
def settings(settings_env):
    return get_settings()


@pytest.fixture
def db(settings):
    """A session for arranging and inspecting data directly (committed explicitly by the test)."""
    session = core_db.new_session()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def app(settings):
    from app.main import create_app

    return create_app()


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def world(settings):
    """Users of every role and one live operation with members (see tests/factories.py)."""
    from tests.factories import make_world

    return make_world()
