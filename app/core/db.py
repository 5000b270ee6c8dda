"""The engine, the session-per-request dependency and engine-specific setup.

A request's session holds a database connection (on SQLite: the write lock) from its first query to its
commit, while the request's sync dependencies and endpoint each wait for a worker thread. Unbounded, a crowd of
requests can take every worker thread while waiting for connections held by requests that wait for a thread:
a deadlock. So at most `db_request_slots` requests hold a session at once (fewer than the worker threads); the
rest wait on the event loop, holding nothing.

SQLite runs in WAL mode with a busy timeout and foreign keys on. Every SQLite transaction starts with
BEGIN IMMEDIATE: a transaction that read first and wrote later would otherwise fail with
SQLITE_BUSY_SNAPSHOT when another writer committed in between, instead of waiting its turn.
"""

import asyncio
import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import anyio
from sqlalchemy import Connection, Engine, Table, bindparam, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import configure_mappers, make_transient_to_detached, sessionmaker
from sqlmodel import Session, create_engine
from starlette.concurrency import run_in_threadpool

from app.core.config import get_settings
from app.core.errors import AppError


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
            pool_size=20,
            max_overflow=20,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it (see below)
            cursor.close()

        _serialise_sqlite_writers(engine)
        _checkpoint_in_background(engine)
        return engine
    # No pre-ping: it cost every request a round trip. A connection the server has dropped (a restart) fails
    # its first statement instead; that request answers 503 (errors.py) and SQLAlchemy renews the whole pool.
    # Every pooled connection is kept (no overflow): requests beyond the pool's 20 used to open and close a
    # connection each, a new server process every time, which under load cost more than the requests.
    engine = create_engine(url, pool_size=40, max_overflow=0, pool_recycle=1800)
    _send_queued_with_commit(engine)
    return engine


_WITH_COMMIT = "parley_with_commit"


def send_with_commit(connection: Connection, sql: str, params: dict[str, Any] | None = None) -> None:
    """PostgreSQL: run `sql` just before this transaction's COMMIT, in the same round trip (a psycopg pipeline),
    after the statements queued before it; its result is not read. For the audit chain's lock and append and
    the live events: the chain lock (and NOTIFY's) is then held only while the server runs them and commits,
    never across a round trip or while this process waits for its GIL, and a write request saves the round
    trip of its COMMIT. A statement run on the connection before the commit sends the queue first (one round
    trip), so a transaction that does read back what it queued (several reports in one transaction, as the demo
    loads them) still sees it. A rollback drops the queue."""
    if not connection.in_transaction():
        connection.begin()  # the queue belongs to a transaction: a rollback before any statement drops it too
    connection.info.setdefault(_WITH_COMMIT, []).append((sql, params))


def _send_queued_with_commit(engine: Engine) -> None:
    @event.listens_for(engine, "commit")
    def _commit_with_queued(connection: Connection) -> None:
        queued = connection.info.pop(_WITH_COMMIT, None)
        if queued:  # psycopg's own commit, which SQLAlchemy calls next, then has nothing to do
            _pipeline(connection, [*queued, ("COMMIT", None)])

    @event.listens_for(engine, "before_cursor_execute")
    def _queued_first(connection: Connection, *_args: Any) -> None:
        send_queued(connection)

    @event.listens_for(engine, "rollback")
    def _drop_queued(connection: Connection) -> None:
        if not connection.invalidated:  # an invalidated one has no info to reach: see the pool events below
            connection.info.pop(_WITH_COMMIT, None)

    @event.listens_for(engine, "reset")
    def _drop_queued_on_reset(_dbapi_connection: Any, record: Any, _state: Any) -> None:
        record.info.pop(_WITH_COMMIT, None)

    @event.listens_for(engine, "invalidate")
    def _drop_queued_on_invalidate(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
        record.info.pop(_WITH_COMMIT, None)


def send_queued(connection: Connection) -> None:
    """The statements queued with `send_with_commit`, sent now: before another statement runs."""
    if not connection.invalidated and _WITH_COMMIT in connection.info:
        _pipeline(connection, connection.info.pop(_WITH_COMMIT))


def _pipeline(connection: Connection, statements: list[tuple[str, Any]]) -> None:
    """Statements run in one round trip (a psycopg pipeline), their results not read."""
    fairy = connection.connection
    driver = fairy.driver_connection
    with (_translated_errors(connection, fairy, statements[0][0], statements[0][1]),
          driver.pipeline(), driver.cursor() as cursor):
        for sql, params in statements:
            cursor.execute(sql, params)


@contextmanager
def _translated_errors(connection: Any, fairy: Any, sql: str, args: Any, cursor: Any = None) -> Iterator[None]:
    """A driver error raised as SQLAlchemy's (IntegrityError stays IntegrityError), the connection invalidated
    when it was lost, as SQLAlchemy does for the statements it runs itself."""
    dialect = connection.dialect
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, fairy, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(sql, args, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost,
                                  dialect=dialect) from exc


def _serialise_sqlite_writers(engine: Engine, timeout: float = 30) -> None:
    """Every SQLite transaction is BEGIN IMMEDIATE, once this writer's turn has come.

    SQLite's own busy handler polls with sleeps of up to 100 ms, so a writer waiting for the lock sleeps
    through the moment it is free: under load the lock stands idle while requests queue. So writers take
    turns first on a lock in the process, then (several app processes on one file) on an advisory lock on
    a file beside the database, which the kernel hands to the next waiter at once and releases if its
    holder dies. The turn lasts from the first BEGIN until the connection goes back to the pool (a
    session's commit, rollback or close). Waiting in the process gives up after `timeout` seconds, like
    the busy timeout, which still guards against other programs holding the database.
    """
    lock, shared = _writer_locks(engine)
    key = "parley_writer_turn"

    def take_turn() -> None:
        if not lock.acquire(timeout=timeout):
            raise sqlite3.OperationalError("database is locked")
        if shared is not None:
            try:
                fcntl.flock(shared, fcntl.LOCK_EX)  # blocks in the kernel: no polling, next in line goes first
            except BaseException:
                lock.release()
                raise

    def end_turn(record_info: dict) -> None:
        if record_info.pop(key, False):
            if shared is not None:
                fcntl.flock(shared, fcntl.LOCK_UN)
            lock.release()

    @event.listens_for(engine, "begin")
    def _sqlite_begin_immediate(connection):
        if connection.get_execution_options().get(_READER):
            connection.exec_driver_sql("BEGIN")  # a reader (see `begin_reading`): no turn, no write lock
            return
        record_info = connection.connection.record_info
        if not record_info.get(key):
            take_turn()
            record_info[key] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            end_turn(record_info)
            raise

    @event.listens_for(engine, "checkin")
    def _end_turn_on_checkin(_dbapi_connection, record):
        end_turn(record.record_info)

    @event.listens_for(engine, "invalidate")
    def _end_turn_on_invalidate(_dbapi_connection, record, _exception):
        end_turn(record.record_info)


def _database_file(engine: Engine) -> str | None:
    """The SQLite database's file path; None for an in-memory or URI-named database."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


_writer_locks_guard = threading.Lock()
_writer_locks_by_file: dict[str, list] = {}  # path -> [process lock, lock file descriptor, engines using it]


def _writer_locks(engine: Engine) -> tuple[threading.Lock, int | None]:
    """The process's lock and the lock file's descriptor for one database file, shared by every engine on it
    (a second engine in the same thread then times out like the busy timeout, rather than waiting for itself);
    the file is closed when the last of those engines is gone."""
    database = _database_file(engine)
    if database is None:
        return threading.Lock(), None
    path = os.path.realpath(database)
    with _writer_locks_guard:
        entry = _writer_locks_by_file.get(path)
        if entry is None:
            entry = _writer_locks_by_file[path] = [
                threading.Lock(), os.open(f"{path}-writers.lock", os.O_RDWR | os.O_CREAT, 0o600), 0]
        entry[2] += 1
    weakref.finalize(engine, _release_writer_locks, path)
    return entry[0], entry[1]


def _release_writer_locks(path: str) -> None:
    with _writer_locks_guard:
        entry = _writer_locks_by_file[path]
        entry[2] -= 1
        if entry[2] == 0:
            os.close(entry[1])
            del _writer_locks_by_file[path]


def _checkpoint_in_background(engine: Engine, every: float = 1.0) -> None:
    """Copy the write-ahead log into the database from a thread of its own, every second.

    SQLite's automatic checkpoint runs inside whichever commit crosses 1,000 pages, while that writer
    still has its turn, so every 300th or so request stalled everyone queued behind it for ~10 ms. A
    PASSIVE checkpoint here runs beside readers and writers; the engine's connections have
    `wal_autocheckpoint=0`. The thread ends with the engine."""
    database = _database_file(engine)
    if database is None:
        return
    stop = threading.Event()

    def run() -> None:
        connection = None
        while not stop.wait(every):
            try:
                if connection is None:
                    connection = sqlite3.connect(database, timeout=5, isolation_level=None,
                                                 check_same_thread=False)
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:  # busy or gone for a moment: try again at the next tick
                pass
        if connection is not None:
            connection.close()

    threading.Thread(target=run, name="sqlite-checkpointer", daemon=True).start()
    weakref.finalize(engine, stop.set)


def new_row(model: type, **values: Any) -> dict[str, Any]:
    """A new row's values for every column of a table model, defaults filled in as its constructor would,
    without building the model: SQLModel's constructor cost ~100 µs on the report's hot path. For a
    `HotInsert`, then `detached()` if an instance is wanted."""
    fields = model.model_fields
    unknown = values.keys() - fields.keys()
    if unknown:
        raise TypeError(f"{model.__name__} has no field {sorted(unknown)[0]!r}")
    return {name: values[name] if name in values else field.get_default(call_default_factory=True)
            for name, field in fields.items()}


class HotInsert:
    """An insert of a whole row (every column's value given by its key) as a `HotQuery`, built once per
    engine. With `unique`: `ON CONFLICT (unique columns) DO NOTHING RETURNING id`, and a call answers the new
    row's id, or None when a row with the same unique values is already there (a repeated client_id): used
    instead of a savepoint on hot paths, so a concurrent repeat loses quietly and two round trips are saved.
    `computed`: columns whose value the database works out as the row goes in (an SQL expression, which may use
    the row's own values as `bindparam("v_<column>")`), instead of a value given."""

    def __init__(self, table: Table, *, unique: list[str] | None = None, computed: dict[str, Any] | None = None
                 ) -> None:
        computed = computed or {}
        self._keys = [column.key for column in table.c if column.key not in computed]
        every_column = {column.key: bindparam(f"v_{column.key}", type_=column.type) for column in table.c
                        if column.key not in computed}

        def statement(make_insert: Any) -> Any:
            whole_row = make_insert(table).values({**every_column, **computed})
            if unique is None:
                return whole_row
            return whole_row.on_conflict_do_nothing(index_elements=unique).returning(table.c.id)

        self._queries = {dialect: HotQuery(statement(make_insert))
                         for dialect, make_insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))}

    def __call__(self, target: Session | Connection, values: dict[str, Any]) -> Any:
        row = self._query(target).first(target, self._params(values))
        return None if row is None else row[0]

    def with_commit(self, target: Session | Connection, values: dict[str, Any]) -> None:
        """The insert sent with the COMMIT on PostgreSQL (see `HotQuery.with_commit`); not with `unique`."""
        self._query(target).with_commit(target, self._params(values))

    def _query(self, target: Session | Connection) -> "HotQuery":
        return self._queries[(target.get_bind() if isinstance(target, Session) else target).dialect.name]

    def _params(self, values: dict[str, Any]) -> dict[str, Any]:
        return {f"v_{key}": values[key] for key in self._keys}


_READER = "parley_reader"


def detached(model: type, values: dict[str, Any]) -> Any:
    """A model instance as if loaded from a row and then detached, from the row's values: for hot reads done
    with Core, cheaper than the ORM's loading. Adding it to a session later updates, never inserts."""
    mapper = model.__mapper__
    if not mapper.configured:
        configure_mappers()
    instance = mapper.class_manager.new_instance()
    instance.__dict__.update(values)
    make_transient_to_detached(instance)
    return instance


def attached(session: Session, model: type, values: dict[str, Any] | None) -> Any:
    """A model instance for a row read with `HotQuery`, in `session` as if the ORM had loaded it there: the
    session's own instance when it already has one, else a new one added to it (changes to it are saved).
    None for no row."""
    if values is None:
        return None
    mapper = model.__mapper__
    key = mapper.identity_key_from_primary_key([values[column.key] for column in mapper.primary_key])
    existing = session.identity_map.get(key)
    if existing is not None:
        return existing
    instance = detached(model, values)
    session.add(instance)
    return instance


class HotQuery:
    """A statement on a hot path (a select; an insert or update, with or without RETURNING): compiled once per
    dialect and run on the DBAPI cursor of the session's connection, with SQLAlchemy's own type conversions for
    its parameters and columns.

    SQLAlchemy's execution path costs 80-300 µs per statement on this 2-core machine (ORM entities the most);
    the query itself takes a few µs on SQLite. Named bind parameters only (no IN lists, no defaults computed
    at execution). Errors come out as SQLAlchemy's, and a lost connection is invalidated, as SQLAlchemy does."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self.columns = [column.key for column in statement.exported_columns]  # a select's, or RETURNING's
        self._plans: dict[str, _Plan] = {}

    def all(self, target: Session | Connection, params: dict[str, Any]) -> list[tuple]:
        connection = target.connection() if isinstance(target, Session) else target
        return self._plan(connection).run(connection, params)

    def with_commit(self, target: Session | Connection, params: dict[str, Any]) -> None:
        """A write whose result nothing reads, and whose row nothing in this transaction reads back: on
        PostgreSQL sent with the COMMIT (`send_with_commit`, no round trip of its own), elsewhere run now."""
        connection = target.connection() if isinstance(target, Session) else target
        plan = self._plan(connection)
        if plan.postgres:
            send_with_commit(connection, plan.sql, plan.args(params))
        else:
            plan.run(connection, params)

    def _plan(self, connection: Connection) -> "_Plan":
        plan = self._plans.get(connection.dialect.name)
        if plan is None:
            plan = self._plans[connection.dialect.name] = _Plan(self.statement, connection.dialect)
        return plan

    def first(self, target: Session | Connection, params: dict[str, Any]) -> tuple | None:
        rows = self.all(target, params)
        return rows[0] if rows else None

    def dicts(self, target: Session | Connection, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.as_dicts(self.all(target, params))

    def as_dicts(self, rows: list[tuple]) -> list[dict[str, Any]]:
        """This statement's rows (from `all` or `together`) as dicts keyed by column."""
        return [dict(zip(self.columns, row, strict=True)) for row in rows]


def split_row(row: tuple | None, *models: type) -> list[dict[str, Any] | None]:
    """A joined row's values per model, for a select of each model's every column in the order given
    (`select(*A.__table__.c, *B.__table__.c)`); None for a model the outer join found no row of, and for
    every model when there is no row."""
    parts, start = [], 0
    for model in models:
        columns = model.__table__.c
        values = row[start:start + len(columns)] if row is not None else (None,)
        parts.append(None if values[0] is None else {c.key: v for c, v in zip(columns, values, strict=True)})
        start += len(columns)
    return parts


class _Plan:
    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.dialect = dialect
        binds = compiled.binds
        self.defaults = {name: bind.value for name, bind in binds.items() if not bind.required}
        self.bind_processors = {name: processor for name, bind in binds.items()
                                if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))}
        self.order = list(compiled.positiontup) if compiled.positional else None
        self.types = [entry[3] for entry in compiled._result_columns]
        self.result_processors: list | None = None  # from the first result's column type codes
        self.postgres = dialect.name == "postgresql"

    def args(self, params: dict[str, Any]) -> Any:
        values = {**self.defaults, **params}
        for name, processor in self.bind_processors.items():
            values[name] = processor(values[name])
        return tuple(values[name] for name in self.order) if self.order is not None else values

    def run(self, connection: Connection, params: dict[str, Any]) -> list[tuple]:
        if self.postgres:
            send_queued(connection)
        args = self.args(params)
        fairy = connection.connection
        cursor = fairy.cursor()
        try:
            with _translated_errors(connection, fairy, self.sql, args, cursor):
                cursor.execute(self.sql, args)
                return self.fetch(cursor)
        finally:
            cursor.close()

    def fetch(self, cursor: Any) -> list[tuple]:
        """The executed statement's rows, converted."""
        if not self.types:  # an insert without RETURNING
            return []
        rows = cursor.fetchall()
        processors = self.result_processors
        if processors is None:  # psycopg builds the description's columns anew on each access (~40 µs): once
            processors = self.result_processors = [
                type_.dialect_impl(self.dialect).result_processor(self.dialect, column[1])
                for type_, column in zip(self.types, cursor.description, strict=True)]
        if not any(processors):
            return rows
        return [tuple(value if processor is None or value is None else processor(value)
                      for processor, value in zip(processors, row, strict=True)) for row in rows]


def together(target: Session | Connection, *calls: tuple[HotQuery, dict[str, Any]]) -> list[list[tuple]]:
    """Several `HotQuery` statements that do not depend on each other's results, and each one's rows in order:
    on PostgreSQL in one round trip (a psycopg pipeline), elsewhere one after another. For the reads a render
    or a report makes before it decides anything, a round trip each otherwise."""
    connection = target.connection() if isinstance(target, Session) else target
    plans = [(query._plan(connection), params) for query, params in calls]
    if not plans or not plans[0][0].postgres:
        return [plan.run(connection, params) for plan, params in plans]
    send_queued(connection)
    fairy = connection.connection
    driver = fairy.driver_connection
    cursors = []
    try:
        with _translated_errors(connection, fairy, ";\n".join(plan.sql for plan, _params in plans), None):
            with driver.pipeline():
                for plan, params in plans:
                    cursors.append(driver.cursor())
                    cursors[-1].execute(plan.sql, plan.args(params))
            return [plan.fetch(cursor) for (plan, _params), cursor in zip(plans, cursors, strict=True)]
    finally:
        for cursor in cursors:
            cursor.close()


@contextmanager
def reading(session: Session) -> Iterator[Any]:
    """Where a `HotQuery` of one statement reads outside the session's transaction: on SQLite, when the session
    has none open, a pooled connection of its own in autocommit (in WAL mode a lone SELECT neither waits for
    writers nor holds them up, and sees one snapshot); otherwise, and on PostgreSQL, the session's own
    connection and transaction."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite" or session.in_transaction():
        yield session.connection()
        return
    pooled = bind.raw_connection()  # no SQLAlchemy Connection: its set-up cost more than the read
    try:
        yield _Pooled(pooled, bind.dialect)
    finally:
        pooled.close()


class _Pooled:
    """A pooled DBAPI connection in the shape `HotQuery` runs on (what it uses of a Connection)."""

    def __init__(self, pooled: Any, dialect: Any) -> None:
        self.connection, self.dialect = pooled, dialect

    def invalidate(self, exception: BaseException | None = None) -> None:
        self.connection.invalidate(exception)


def begin_reading(session: Session) -> None:
    """Start the session's transaction as a reader: on SQLite a plain BEGIN, which in WAL mode neither waits
    for writers nor holds them up (PostgreSQL: no difference). The transaction must not write; end it
    (commit) before writing. For the sign-in check every request makes."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={_READER: True})


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().effective_database_url)


@lru_cache
def _session_factory() -> sessionmaker:
    return sessionmaker(bind=get_engine(), class_=Session, expire_on_commit=False)


def new_session() -> Session:
    return _session_factory()()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction outside a request (CLI, workers): commit on success, roll back on error."""
    session = new_session()
    try:
        yield session
        session.commit()
    except AppError as exc:
        session.commit() if exc.keep_changes else session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_request_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter]" = (
    weakref.WeakKeyDictionary()
)


def request_slots() -> anyio.CapacityLimiter:
    """One limiter per event loop (tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    if loop not in _request_slots:
        settings = get_settings()
        _request_slots[loop] = anyio.CapacityLimiter(settings.db_request_slots or default_request_slots(settings))
    return _request_slots[loop]


def default_request_slots(settings: Any) -> int:
    """SQLite: 4 (its writes queue anyway). PostgreSQL: twice the CPU cores, at most 32. More requests at once
    than the cores can serve only make their threads fight for the GIL: on this 2-core machine, 300 renders/s
    had a p99 of 64 ms with 4 slots per process, 106 ms with 8 and 944 ms with 30 (README, benchmarks). A
    database further away (more time waiting per request) may want more: `PARLEY_DB_REQUEST_SLOTS`."""
    if settings.is_sqlite:
        return 4
    return min(32, 2 * (os.cpu_count() or 2))


async def get_session() -> AsyncIterator[Session]:
    """The request's session: the only place a request's changes are committed (before the answer is sent)."""
    async with request_slots():
        session = new_session()
        try:
            yield session
        except AppError as exc:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(_finish, session, commit=exc.keep_changes)
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(_finish, session, commit=False)
            raise
        else:
            if not session.in_transaction():  # the endpoint committed in its own thread (core/routing.py)
                session.close()
                return
            with anyio.CancelScope(shield=True):  # a client that hangs up does not undo a finished request
                await run_in_threadpool(_finish, session, commit=True)


def _finish(session: Session, *, commit: bool) -> None:
    """Commit or roll back, then close: one worker-thread hop at the end of every request."""
    try:
        session.commit() if commit else session.rollback()
    finally:
        session.close()


def reset_engine() -> None:
    """Forget the cached engine (tests switch databases)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    _session_factory.cache_clear()
