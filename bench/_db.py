"""Throw-away databases for the benchmarks: a SQLite file or a fresh PostgreSQL database, migrated."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url

PG_SERVER = os.environ.get("PARLEY_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_database(engine_name: str) -> Iterator[tuple[str, str]]:
    """(database url, data dir); the environment points Parley at them while inside."""
    from app.core import db as core_db
    from app.core.config import get_settings
    from app.core.migrations import upgrade

    workdir = tempfile.mkdtemp(prefix=f"parley-bench-{engine_name}-")
    admin = None
    if engine_name == "sqlite":
        url = f"sqlite:///{workdir}/parley.db"
    else:
        base = make_url(PG_SERVER)
        name = f"parley_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
    saved = {k: os.environ.get(k) for k in ("PARLEY_DATABASE_URL", "PARLEY_DATA_DIR", "PARLEY_ENV")}
    os.environ.update({"PARLEY_DATABASE_URL": url, "PARLEY_DATA_DIR": f"{workdir}/data", "PARLEY_ENV": "test"})
    get_settings.cache_clear()
    core_db.reset_engine()
    try:
        upgrade(url)
        yield url, f"{workdir}/data"
    finally:
        core_db.reset_engine()
        get_settings.cache_clear()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
