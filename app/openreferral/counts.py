"""How many items a public list holds (the Open Referral lists, and ``/v1/activities``
as the public sees it), remembered for ``SIGNPOST_FEED_COUNT_SECONDS`` (30) per list and
filters: a crawler reads thousands of pages of the same list, and counting the whole
country for each costs more than the page itself (bench/RESULTS.md). A commit
that adds, changes or removes an activity, organisation, venue or term empties this
process's memory at once; other worker processes notice within those seconds.
"""

import threading
import time
from collections.abc import Callable, Hashable

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.activities.models import Activity
from app.core.config import get_settings
from app.organisations.models import Organisation
from app.venues.models import Venue
from app.vocabulary.models import Taxonomy, TaxonomyTerm

MAX_ENTRIES = 1_000
_WATCHED = (Activity, Organisation, Venue, Taxonomy, TaxonomyTerm)
_lock = threading.Lock()
_totals: dict[Hashable, tuple[int, float]] = {}


def known(key: Hashable) -> int | None:
    """The remembered total for ``key``, if still fresh."""
    found = _totals.get(key)
    return found[0] if found is not None and found[1] > time.monotonic() else None


def remember(key: Hashable, total: int) -> None:
    seconds = get_settings().feed_count_seconds
    if seconds <= 0:
        return
    with _lock:
        if len(_totals) >= MAX_ENTRIES:
            _totals.clear()
        _totals[key] = (total, time.monotonic() + seconds)


def clear() -> None:
    with _lock:
        _totals.clear()


def counted(key: Hashable, count: Callable[[], int]) -> int:
    total = known(key)
    if total is None:
        total = count()
        remember(key, total)
    return total


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context) -> None:
    if any(isinstance(o, _WATCHED) for o in (*session.new, *session.deleted, *session.dirty)):
        session.info["feed_changed"] = True


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    if session.info.pop("feed_changed", False):
        clear()


@event.listens_for(Session, "after_rollback")
def _keep_on_rollback(session: Session) -> None:
    session.info.pop("feed_changed", None)
