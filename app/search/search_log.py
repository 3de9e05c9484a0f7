"""The search log, written in batches after the answers have gone.

Each search's row (``SearchLog``: no person in it) joins its worker's batch once the answer
has been sent. The batch is written in one short transaction, its rows and their demand
counts together (``app.search.demand``), when it holds ``SIGNPOST_SEARCH_LOG_BATCH_SIZE``
rows, when its first row has waited ``SIGNPOST_SEARCH_LOG_BATCH_SECONDS``, and when the
worker stops. One row per search written on its own cost every search five statements
(begin, setting, insert, demand upsert, commit) on the database the searches read from.

These are statistics: a worker that is killed outright loses at most the last second's
rows, and a batch that cannot be written is logged once, without its rows, and dropped.
"""

import asyncio
import threading

import structlog
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine
from app.search.models import SearchLog

logger = structlog.get_logger("signpost.search")

_pending: list[SearchLog] = []
_lock = threading.Lock()


async def add(entry: SearchLog) -> None:
    """Put a search's row in the batch (a background task: the answer has gone), writing
    the batch when it is full, or at once when batching is off (``SECONDS`` 0)."""
    settings = get_settings()
    with _lock:
        _pending.append(entry)
        waiting = len(_pending)
    if waiting >= settings.search_log_batch_size or settings.search_log_batch_seconds <= 0:
        await run_in_threadpool(flush)
    elif waiting == 1:  # the first row of a new batch: write it by its deadline
        loop = asyncio.get_running_loop()
        loop.call_later(settings.search_log_batch_seconds, _flush_in_background, loop)


def _flush_in_background(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_in_executor(None, flush)


def pending() -> int:
    with _lock:
        return len(_pending)


def flush() -> int:
    """Write whatever the batch holds, in one transaction; how many rows it held."""
    with _lock:
        batch = _pending[:]
        _pending.clear()
    if not batch:
        return 0
    try:
        with Session(get_engine()) as session:
            if session.get_bind().dialect.name == "postgresql":
                # Statistics: losing the last few on a crash is fine, so do not make the
                # commit wait for a WAL flush.
                session.execute(text("SET LOCAL synchronous_commit = off"))
            session.add_all(batch)
            session.commit()
    except Exception as error:
        logger.warning("search_log_not_written", error=type(error).__name__, rows=len(batch))
    return len(batch)
