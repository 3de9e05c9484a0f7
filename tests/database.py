"""Putting the test database back to empty between tests."""

from sqlalchemy import delete

from app.accounts.principal_cache import principals
from app.core.db import get_engine
from app.geo import service as geo
from app.models import metadata
from app.openreferral import counts as feed_counts
from app.search import lexicon
from app.vocabulary import snapshot as vocabulary_snapshot


def empty_everything() -> None:
    """Every table emptied and every in-process cache of what they held forgotten."""
    vocabulary_snapshot.clear()
    lexicon.clear()
    principals.clear()
    feed_counts.clear()
    geo.forget_placed()
    with get_engine().begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
