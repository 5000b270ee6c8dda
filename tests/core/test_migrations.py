"""The migrations are the schema: they upgrade, downgrade and upgrade again, and match the models."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.core.migrations import downgrade, head_revision, upgrade
from tests.dbutil import create_postgres_database, drop_postgres_database, server_url


def _empty_database(tmp_path) -> str:
    return create_postgres_database("parley_mig") if server_url() else f"sqlite:///{tmp_path / 'mig.db'}"


def _drift(url: str) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    return differences


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        names = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    return names


def test_upgrade_downgrade_upgrade_and_no_drift(tmp_path):
    url = _empty_database(tmp_path)
    try:
        upgrade(url)
        assert _drift(url) == []
        downgrade(url, "base")
        assert _tables(url) <= {"alembic_version"}
        upgrade(url)
        assert _drift(url) == []
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == head_revision()
        engine.dispose()
    finally:
        if server_url():
            drop_postgres_database(url)


def test_every_migration_file_is_date_named_and_reversible():
    from pathlib import Path

    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    files = sorted(p for p in versions.glob("*.py"))
    assert files
    for path in files:
        text = path.read_text()
        assert path.name[:10].count("-") == 2, path.name  # YYYY-MM-DD_...
        assert "def downgrade()" in text, path.name
