"""Keeping the search tables quick to read on PostgreSQL: ``signpost cluster-search``.

A located search reads the ``activity_place`` rows in its bounding box. PostgreSQL stores
rows where there was room when they were written, so after imports and edits the rows of
one town lie on nearly as many pages as they are rows: a 10 km text search in central
London read 8,788 pages for its 12,052 rows on the benchmark directory. Rewritten in place
order (``CLUSTER`` on the latitude/longitude index) it read 2,494. Capacity changes, the
most frequent writes to these rows, update them where they lie (place rows keep room on
each page: ``FILLFACTOR``, migration 0023), so the order holds between runs; rows rebuilt
by an edit go wherever there is room, and a nightly run puts them back.

``CLUSTER`` also compacts (``activity_facet`` is rewritten in key order for that alone).
It locks each table against reads and writes while it rewrites it (seconds at national
scale), so it asks for the lock for at most ``wait_ms`` at a time: waiting longer would
queue every search behind it while a long transaction finishes. When the table stays busy
it tries again later, up to ``attempts`` times. SQLite has nothing to do.
"""

import time
from dataclasses import dataclass

import structlog
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

logger = structlog.get_logger("signpost.search")

# (table, the index whose order its rows are rewritten in)
CLUSTERED = (
    ("activity_place", "ix_activity_place_latitude_longitude"),
    ("activity_facet", "pk_activity_facet"),
)
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class Clustered:
    table: str
    seconds: float
    bytes_before: int
    bytes_after: int
    attempts: int


class Busy(Exception):
    """A table stayed locked by other transactions through every attempt."""

    def __init__(self, table: str, attempts: int) -> None:
        super().__init__(f"{table} stayed busy through {attempts} attempts; nothing was changed")
        self.table = table


def cluster(
    engine: Engine, wait_ms: int = 1000, attempts: int = 5, pause_seconds: float = 10.0
) -> list[Clustered]:
    """Rewrite each table of ``CLUSTERED`` in its index's order, then refresh its planner
    statistics. Empty on SQLite. Raises ``Busy`` when a table's lock is never granted (the
    tables rewritten before it stay rewritten)."""
    if engine.dialect.name != "postgresql":
        return []
    return [_cluster_one(engine, table, index, wait_ms, attempts, pause_seconds)
            for table, index in CLUSTERED]  # fmt: skip


def _cluster_one(
    engine: Engine, table: str, index: str, wait_ms: int, attempts: int, pause_seconds: float
) -> Clustered:
    size = text("SELECT pg_total_relation_size(CAST(:table AS regclass))")
    for attempt in range(1, attempts + 1):
        try:
            with engine.connect() as connection:
                before = connection.execute(size, {"table": table}).scalar_one()
                connection.execute(text(f"SET LOCAL lock_timeout = {int(wait_ms)}"))
                # The requests' limit (SIGNPOST_DB_STATEMENT_TIMEOUT_MS) is not for this.
                connection.execute(text("SET LOCAL statement_timeout = 0"))
                started = time.perf_counter()
                connection.execute(text(f"CLUSTER {table} USING {index}"))
                connection.commit()
                seconds = time.perf_counter() - started
                connection.execute(text(f"ANALYZE {table}"))
                after = connection.execute(size, {"table": table}).scalar_one()
                connection.commit()
            return Clustered(table, seconds, before, after, attempt)
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            logger.info("cluster_waiting", table=table, attempt=attempt)
            if attempt < attempts:
                time.sleep(pause_seconds)
    raise Busy(table, attempts)
