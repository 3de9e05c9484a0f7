"""Engine, sessions and the one dependency that owns a request's transaction."""

import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine, MetaData, event
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
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    pool_size = get_settings().db_pool_size
    _fast_json_for_psycopg()
    return create_engine(url, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)


def _fast_json_for_psycopg() -> None:
    """psycopg hands JSONB over as bytes, and json.loads(bytes) sniffs the encoding of every
    value first; PostgreSQL always sends UTF-8, so decode and skip the sniffing."""
    from psycopg.types.json import set_json_loads

    set_json_loads(lambda data: json.loads(data.decode() if isinstance(data, bytes) else data))


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


def get_session() -> Iterator[Session]:
    """Yield a session; commit when the request succeeds, roll back when it fails."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


# scope="function" commits before the response is sent, so a failed commit is
# reported to the client instead of being lost after a 2xx went out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
