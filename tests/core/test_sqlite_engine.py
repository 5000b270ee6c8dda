"""The embedded engine's own behaviour: writers take turns across threads and processes, the write-ahead
log is checkpointed in the background, readers do not wait for writers. (SQLite files of their own, on
every CI pass: this is about how Parley drives SQLite, whatever database the suite runs on.)"""

import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import sqlalchemy as sa

from app.core.db import begin_reading, make_engine

HOLDER = textwrap.dedent("""
    import sys, time
    import sqlalchemy as sa
    from app.core.db import make_engine
    engine = make_engine(sys.argv[1])
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO t (v) VALUES ('first')"))
        print("holding", flush=True)
        time.sleep(1.0)
    print("committed", flush=True)
""")


def _table(url: str) -> sa.Engine:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    return engine


def test_a_writer_in_another_process_waits_its_turn_then_writes(tmp_path):
    url = f"sqlite:///{tmp_path}/parley.db"
    engine = _table(url)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with engine.begin() as connection:  # waits for the other process's commit instead of failing
            connection.execute(sa.text("INSERT INTO t (v) VALUES ('second')"))
        waited = time.monotonic() - started
        assert holder.stdout.readline().strip() == "committed"
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0 and waited > 0.5
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT v FROM t ORDER BY id")).scalars().all() == ["first", "second"]
    engine.dispose()


def test_writers_in_one_process_take_turns_and_none_is_lost(tmp_path):
    engine = _table(f"sqlite:///{tmp_path}/parley.db")

    def write(n: int) -> None:
        for i in range(25):
            with engine.begin() as connection:  # read, then write: would fail if another writer slipped in
                count = connection.execute(sa.text("SELECT count(*) FROM t")).scalar_one()
                connection.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": f"{n}-{i}-{count}"})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 200
    engine.dispose()


def test_a_reader_does_not_wait_for_a_writer(tmp_path):
    """The sign-in check every request makes reads beside a writer's open transaction (WAL)."""
    from sqlmodel import Session

    engine = _table(f"sqlite:///{tmp_path}/parley.db")
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO t (v) VALUES ('committed')"))
    writer = engine.connect()
    writer.begin()
    writer.execute(sa.text("INSERT INTO t (v) VALUES ('not yet')"))
    try:
        with Session(engine) as session:
            begin_reading(session)
            started = time.monotonic()
            assert session.execute(sa.text("SELECT v FROM t")).scalars().all() == ["committed"]
            assert time.monotonic() - started < 5  # not the 30 s busy timeout
            session.commit()
    finally:
        writer.rollback()
        writer.close()
    engine.dispose()


def test_the_log_is_checkpointed_into_the_database_in_the_background(tmp_path):
    """Commits do not checkpoint (wal_autocheckpoint=0 on Parley's connections); a thread does, so the
    database file itself holds committed rows within a couple of seconds."""
    engine = _table(f"sqlite:///{tmp_path}/parley.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 0
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": str(i)} for i in range(500)])
    deadline = time.monotonic() + 10
    rows = 0
    while time.monotonic() < deadline and rows < 500:
        time.sleep(0.5)
        shutil.copyfile(tmp_path / "parley.db", tmp_path / "copy.db")  # the database file alone, no log
        with sqlite3.connect(tmp_path / "copy.db") as copy:
            if copy.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone()[0]:
                rows = copy.execute("SELECT count(*) FROM t").fetchone()[0]
    assert rows == 500
    engine.dispose()
