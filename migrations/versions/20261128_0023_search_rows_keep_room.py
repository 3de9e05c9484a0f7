"""Place rows keep room on their pages (issue #14)

`activity_place` gets FILLFACTOR 90: each page is filled to 90% when rows are written or
rewritten (`signpost cluster-search`), so a capacity change, which updates an activity's
place rows on every referral, finds room on the row's own page. PostgreSQL then updates it
there (a heap-only tuple: no index entry written) and the rows stay in the place order
`cluster-search` put them in. 10% holds one more version of a place row (about 700 bytes
with its text vector); more room would make every located search read more pages.
`activity_facet` keeps PostgreSQL's 100: where its rows lie does not matter, and national
searches read all of it, so room there would cost every one of them. Existing pages are
not rewritten here; the next `cluster-search` repacks them. Nothing to do on SQLite.

Revision ID: 0023_search_rows_keep_room
Revises: 0022_capacity_on_search_rows
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023_search_rows_keep_room"
down_revision: str | None = "0022_capacity_on_search_rows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 90  # as app/search/models.PLACE_FILLFACTOR was when this was written


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE activity_place SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE activity_place RESET (fillfactor)")
