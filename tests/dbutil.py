"""Test databases built by the real migrations, on SQLite or PostgreSQL.

PARLEY_DATABASE_URL (or PARLEY_TEST_DATABASE_URL) naming a PostgreSQL server selects PostgreSQL: the
suite makes its own fresh databases on that server, so runs never share state. Otherwise SQLite.
"""

import os
import shutil
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.core.migrations import upgrade


def server_url() -> str | None:
    url = os.environ.get("PARLEY_TEST_DATABASE_URL") or os.environ.get("PARLEY_DATABASE_URL")
    return url if url and url.startswith("postgresql") else None


def engine_name() -> str:
    return "postgresql" if server_url() else "sqlite"


def create_postgres_database(prefix: str = "parley_t") -> str:
    """A new empty database on the configured server; returns its URL."""
    base = make_url(server_url())
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


class TestDatabase:
    """Migrated once per test session; emptied (PostgreSQL) or copied afresh (SQLite) for each test."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        if server_url():
            self.url = create_postgres_database()
            upgrade(self.url)
            # a connection of its own each time: some tests end every connection to the database (a restart)
            self.engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
            with self.engine.connect() as connection:
                tables = [f'"{t}"' for t in sa.inspect(connection).get_table_names() if t != "alembic_version"]
                sequences = connection.exec_driver_sql(
                    "SELECT sequence_name FROM information_schema.sequences").scalars().all()
            # Emptied as TRUNCATE would (its lock first: it waits for anything a test left running), but with DELETE:
            # TRUNCATE gives each table and index a new file, 108 ms per test here against 3. With the replication
            # role neither foreign keys nor the audit tables' append-only triggers fire, so any order will do.
            self.emptying = "; ".join([
                "SET LOCAL session_replication_role = replica",
                f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE",
                *(f"DELETE FROM {table}" for table in tables),
                *(f'ALTER SEQUENCE "{sequence}" RESTART' for sequence in sequences)])
        else:
            self.template = workdir / "template.db"
            upgrade(f"sqlite:///{self.template}")
            engine = sa.create_engine(f"sqlite:///{self.template}")
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()

    def fresh(self, test_dir: Path) -> str:
        if server_url():
            with self.engine.begin() as connection:
                connection.exec_driver_sql(self.emptying)
            return self.url
        target = test_dir / "parley.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"

    def close(self) -> None:
        if server_url():
            self.engine.dispose()
            drop_postgres_database(self.url)
