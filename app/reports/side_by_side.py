"""Two halves of one report read at once, on two connections, so a report of many
independent queries (the area profile) takes about the time of its slower half rather than
the sum of both.

Only on PostgreSQL (SQLite's queries run in this process, so a second thread gains nothing
under the GIL), at most one extra connection per process at a time, and only when the pool
has a connection to spare: otherwise both halves run one after the other on the request's
own session, as they would anyway. Each half is one consistent read; the two start within
a millisecond of each other.
"""

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlmodel import Session

First = TypeVar("First")
Second = TypeVar("Second")

_spare = threading.BoundedSemaphore(1)
_helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-half")


def _connection_to_spare(session: Session) -> bool:
    pool = session.get_bind().pool
    size, checked_out = getattr(pool, "size", None), getattr(pool, "checkedout", None)
    return size is not None and checked_out is not None and checked_out() < size()


def _in_own_session(engine, half: Callable[[Session], Second]) -> Second:
    with Session(engine, expire_on_commit=False) as session:
        try:
            return half(session)
        finally:
            session.rollback()  # it only read; end its snapshot now


def side_by_side(
    session: Session,
    first: Callable[[Session], First],
    second: Callable[[Session], Second],
) -> tuple[First, Second]:
    """``first(session)`` here and ``second`` on a session of its own in a helper thread,
    at the same time when the database and the pool allow it; one after the other if not.
    An error in either is raised here, as if they had run in turn."""
    engine = session.get_bind()
    if engine.dialect.name != "postgresql" or not _spare.acquire(blocking=False):
        return first(session), second(session)
    try:
        if not _connection_to_spare(session):
            return first(session), second(session)
        context = contextvars.copy_context()  # the request's log context goes along
        later = _helper.submit(context.run, _in_own_session, engine, second)
        try:
            done_here = first(session)
        finally:
            done_there = later.result()  # waits even when ``first`` failed: no stray reads
        return done_here, done_there
    finally:
        _spare.release()
