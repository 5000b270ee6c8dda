"""A database restart costs the request that meets a dropped connection a 503 (nothing saved, Retry-After:
the PWA's outbox retries), never a 500, and the next requests work on fresh connections. (No pre-ping round
trip is spent on every request to hide the one 503.)"""

import pytest
import sqlalchemy as sa

from app.core.config import get_settings
from tests.dbutil import engine_name

pytestmark = pytest.mark.skipif(engine_name() != "postgresql",
                                reason="only PostgreSQL's connections can be dropped by the server")


def _drop_every_connection_of_the_app() -> int:
    engine = sa.create_engine(get_settings().effective_database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            return len(connection.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all())
    finally:
        engine.dispose()


def test_requests_after_a_restart_get_503_then_work_again(client, world):
    officer = world.headers("officer")
    assert client.get("/api/v1/me", headers=officer).status_code == 200
    assert _drop_every_connection_of_the_app() >= 1

    first = client.get("/api/v1/me", headers=officer)  # on the dropped connection
    assert first.status_code == 503, first.text
    assert first.headers["content-type"].startswith("application/problem+json")
    assert first.headers["retry-after"] == "1"
    assert first.json()["title"] == "Database unavailable"

    for _ in range(3):
        assert client.get("/api/v1/me", headers=officer).status_code == 200
    report = client.post(f"/api/v1/operations/{world.op.id}/escalations", headers=officer,
                         json={"client_id": "after-restart-1", "summary": "Crowd moving to Gate 3"})
    assert report.status_code == 201, report.text
