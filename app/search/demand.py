"""Demand by day, place and need (``SearchDemandDay``), counted in the same flush that
logs each search, whoever logs it, so the counts and the log never disagree."""

from collections import defaultdict

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.db import dialect_insert
from app.core.types import utcnow
from app.search.models import SearchDemandDay, SearchLog

COUNTS = ("searches", "fewer_than_3", "no_results")


@event.listens_for(Session, "before_flush")
def _count_new_searches(session: Session, _context, _instances) -> None:
    counted: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in session.new:
        if not isinstance(entry, SearchLog):
            continue
        place = entry.sector or entry.outcode
        if not place:
            continue
        day = (entry.searched_at or utcnow()).date()
        for need_id in dict.fromkeys(entry.need_ids):
            row = counted[(day, place, need_id)]
            row[0] += 1
            row[1] += entry.result_count < 3
            row[2] += entry.result_count == 0
    if not counted:
        return
    table = SearchDemandDay.__table__
    statement = dialect_insert(session, table)
    added = {name: table.c[name] + statement.excluded[name] for name in COUNTS}
    session.execute(
        statement.on_conflict_do_update(index_elements=["day", "place", "need_id"], set_=added),
        # In key order: two workers writing their batches at once then take the rows' locks
        # in the same order, so they queue instead of deadlocking.
        [
            {"day": day, "place": place, "need_id": need, **dict(zip(COUNTS, row, strict=True))}
            for (day, place, need), row in sorted(counted.items())
        ],
    )
