"""Searches with unmatched phrases indexed apart (issue #18)

About one logged search in twenty keeps words no term understood. The unmatched-phrases
report (and the area profile's list of them) read those by partial indexes on sector,
outcode and time instead of every search of the area or period (one area's phrases: 50 ms
of SQL to a few).

Revision ID: 0019_search_phrases
Revises: 0018_venue_sector
Create Date: 2026-11-27 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_search_phrases"
down_revision: str | None = "0018_venue_sector"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("sector", "outcode", "searched_at")
# As app/search/models.HAS_PHRASES (kept here as it was when this migration was written).
HAS_PHRASES = "unmatched <> '[]'"


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(
            f"ix_search_log_phrases_{column}",
            "search_log",
            [column],
            postgresql_where=sa.text(HAS_PHRASES),
            sqlite_where=sa.text(HAS_PHRASES),
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_search_log_phrases_{column}", table_name="search_log")
