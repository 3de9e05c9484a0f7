"""Engine, sessions and the one dependency that owns a request's transaction."""

import functools
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated

import anyio
import pydantic_core
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, MetaData, event, exc
from sqlmodel import Session, SQLModel, create_engine

from app.core.config import get_settings

# Named constraints make SQLite batch migrations and later drops possible.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # With WAL, NORMAL syncs at checkpoints rather than on every commit: never corrupt, and
    # a power cut can lose only the last commits (SQLite's own advice for WAL).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={get_settings().db_lock_timeout_ms}")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine whose every wait is bounded: pool checkout, connecting, lock waits and
    statements (see Settings); running out of any of them is a 503 (app/core/errors.py)."""
    settings = get_settings()
    pool = {
        "pool_size": settings.db_pool_size,
        "max_overflow": 0,
        "pool_timeout": settings.db_pool_timeout_seconds,
    }
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    _fast_json_for_psycopg()
    _remember_long_statements()
    connect_args: dict = {"connect_timeout": settings.db_connect_timeout_seconds}
    if settings.db_pgbouncer:
        # PgBouncer in transaction mode hands each transaction any server connection: it
        # refuses startup parameters (set the timeouts with ALTER ROLE ... SET instead) and
        # a statement prepared on one connection is unknown on the next.
        connect_args["prepare_threshold"] = None
    else:
        # Startup parameters, so they hold for every transaction on the connection.
        connect_args["options"] = (
            f"-c lock_timeout={settings.db_lock_timeout_ms} "
            f"-c statement_timeout={settings.db_statement_timeout_ms} "
            f"-c jit={'on' if settings.db_jit else 'off'}"
        )
    engine = create_engine(
        url,
        # No ping on every checkout (a round trip per request): only after a quiet spell.
        pool_recycle=settings.db_pool_recycle_seconds,
        connect_args=connect_args,
        **pool,
    )
    _ping_after_idle(engine, settings.db_ping_after_idle_seconds)
    return engine


def _ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection that has been idle ``idle_seconds`` before handing it out;
    if the ping fails, SQLAlchemy drops every connection the pool held before now and hands
    out a new one. A busy worker reuses its connections within milliseconds and never pings;
    one that was idle through a database restart reconnects instead of answering 503."""

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError() from error


def _fast_json_for_psycopg() -> None:
    """psycopg hands JSONB over as bytes to ``json.loads``; pydantic-core's parser (Rust,
    already here for pydantic) reads the same values in about half the time, and a page of
    search results decodes some 70 of them."""
    from psycopg.types.json import set_json_loads

    set_json_loads(pydantic_core.from_json)


def _remember_long_statements() -> None:
    """psycopg remembers how it rewrote a statement's placeholders only for statements of
    up to 4 KiB and 50 parameters; a search's page statement is 7 to 9 KiB with 40 to 60, and
    was parsed again on every request. The application's statements are a bounded set (the
    search keeps one per request shape), and psycopg keeps at most 128 of them. These are
    psycopg's internals: a version without them is left as it is."""
    from psycopg import _queries

    for name, wanted in (
        ("MAX_CACHED_STATEMENT_LENGTH", 64 * 1024),
        ("MAX_CACHED_STATEMENT_PARAMS", 500),
    ):
        if isinstance(current := getattr(_queries, name, None), int):
            setattr(_queries, name, max(current, wanted))


_engine: Engine | None = None
_read_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """The process's one engine, so the configured pool size is the real cap on
    connections (created once, even when many first requests arrive together)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = make_engine(get_settings().database_url)
    return _engine


def get_read_engine() -> Engine:
    """The engine of SIGNPOST_READ_DATABASE_URL (one per process, like the primary's), or
    the primary's when no replica is configured."""
    global _read_engine
    url = get_settings().read_database_url
    if not url:
        return get_engine()
    if _read_engine is None:
        with _engine_lock:
            if _read_engine is None:
                _read_engine = make_engine(url)
    return _read_engine


def dispose_engines() -> None:
    for engine in (_engine, _read_engine):
        if engine is not None:
            engine.dispose()


def begin_explicitly(session: Session) -> None:
    """Make savepoints (``begin_nested``) safe on SQLite: the sqlite3 module opens its
    transaction only at the first write, so a SAVEPOINT before one would open a transaction
    of its own, and its RELEASE commit it. Opening the transaction here keeps every
    savepoint inside it. Nothing to do on PostgreSQL."""
    connection = session.connection()
    if (
        connection.dialect.name == "sqlite"
        and not connection.connection.dbapi_connection.in_transaction
    ):
        connection.exec_driver_sql("BEGIN")


async def get_session() -> AsyncIterator[Session]:
    """Yield a session; commit when the request succeeds, roll back when it fails.

    Async: opening a session does no I/O (it connects at its first statement), so a request
    hands work to the thread pool only to commit or end a transaction it actually began, not
    to open and close every session (two hops per request when this was a plain generator)."""
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            await run_in_threadpool(session.commit)
    finally:
        if session.in_transaction():  # failed or cancelled: close() rolls back, which is I/O
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(session.close)
        else:
            session.close()


# scope="function" commits before the response is sent, so a failed commit is
# reported to the client instead of being lost after a 2xx went out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_read_session(session: SessionDep) -> AsyncIterator[Session]:
    """For routes that only read and can bear a replica's lag of a moment (reports): a
    session on the read replica, or the request's own session when there is none (so no
    request holds two connections to one database). Async, so the usual case (no replica)
    costs no thread-pool hop; ending a replica's session does I/O and goes to a thread."""
    if get_read_engine() is get_engine():
        yield session
        return
    reader = Session(get_read_engine(), expire_on_commit=False)
    try:
        yield reader
    finally:
        # It wrote nothing; end its snapshot before the answer goes.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_end_reading, reader)


def _end_reading(reader: Session) -> None:
    try:
        reader.rollback()
    finally:
        reader.close()


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


@functools.cache
def autocommit(engine: Engine) -> Engine:
    """``engine`` (sharing its pool) with every statement committed on its own: no BEGIN
    and no COMMIT round trips around a read."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _statements_on(engine_of: Callable[[], Engine]):
    """A dependency yielding a session in autocommit on ``engine_of()``: no BEGIN and
    COMMIT round trips around its statements, and no hop to a thread to commit once the
    route has run. Under PostgreSQL's default READ COMMITTED each statement had its own
    snapshot anyway, so what a statement reads means the same. When the request's own
    session already holds a connection to the same database (its API key was just looked
    up and marked as used), the route shares it rather than hold a second one. Closing an
    autocommit session does no I/O (there is no transaction to end), so it happens here on
    the event loop."""

    async def statements(session: SessionDep) -> AsyncIterator[Session]:
        engine = engine_of()
        if engine is get_engine() and session.in_transaction():
            yield session
            return
        own = Session(autocommit(engine), expire_on_commit=False)
        try:
            yield own
            if own.new or own.dirty or own.deleted:  # never silently dropped
                raise RuntimeError("a route reading in autocommit changed something")
        finally:
            own.close()

    return statements


# For routes that only read (listings, one activity, the Open Referral feed and most other
# GETs: tests/test_authorization_matrix.py checks which), on the primary, so a provider sees
# the change they have just made. A route that reads in several statements sees each as
# PostgreSQL's READ COMMITTED showed it in a transaction: what had committed when that
# statement began. Routes that write keep ``SessionDep``, as do reads that write an audit
# entry with what they read.
get_statement_session = _statements_on(get_engine)
StatementSessionDep = Annotated[Session, Depends(get_statement_session, scope="function")]


# GET and HEAD read (the authorisation matrix proves, for every GET, that it writes nothing
# and reads in autocommit on one connection); every other method writes.
_READS = frozenset({"GET", "HEAD"})


async def get_loader_session(
    request: Request, session: SessionDep, statements: StatementSessionDep
) -> Session:
    """For a dependency that loads a route's subject (the activity, organisation, venue,
    user, support need or assurance item in its path) for readers and writers alike: the
    session the route itself works in. A read's subject is loaded in autocommit with the
    rest of the read; a write's in the request's transaction, where the route changes it.
    (For a write, the autocommit session is opened and closed unused: no I/O.)"""
    return statements if request.method in _READS else session


LoaderSessionDep = Annotated[Session, Depends(get_loader_session)]

# The same on the read replica when there is one, for routes that can bear a replica's lag
# of a moment (the referral search: a search's page is one round trip, not three). Routes
# that set anything for their transaction (``SET LOCAL``: reports) use ``ReadSessionDep``.
get_statement_reader = _statements_on(get_read_engine)
StatementReaderDep = Annotated[Session, Depends(get_statement_reader, scope="function")]


def dialect_insert(session: Session, table):
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_once(session: Session, table, values: dict, key: list[str]) -> bool:
    """INSERT … ON CONFLICT (key) DO NOTHING, on either database: True when inserted."""
    statement = (
        dialect_insert(session, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=key)
        .returning(table.c[key[0]])  # rowcount is not reported for it by every driver
    )
    return session.execute(statement).first() is not None


def insert_missing(session: Session, table, rows: list[dict], key: list[str]) -> None:
    """INSERT … ON CONFLICT (key) DO NOTHING for many rows in a few round trips."""
    if rows:
        session.execute(
            dialect_insert(session, table).on_conflict_do_nothing(index_elements=key), rows
        )


def insert_or_replace(session: Session, table, rows: list[dict], key: list[str]) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE SET every other column, on either database;
    many rows in a few round trips."""
    if not rows:
        return
    statement = dialect_insert(session, table)
    replace = {name: statement.excluded[name] for name in rows[0] if name not in key}
    session.execute(statement.on_conflict_do_update(index_elements=key, set_=replace), rows)
