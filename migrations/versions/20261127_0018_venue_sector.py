"""Venues indexed by postcode sector (issue #18)

Reports place activities in areas by their venues' sectors ("BS5 6"): an index on the
expression lets one area's venues be read by index rather than by scanning every venue.
The model does not declare it (an expression index; app/core/migrations.DATABASE_ONLY).

Revision ID: 0018_venue_sector
Revises: 0017_wellbeing
Create Date: 2026-11-27 04:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018_venue_sector"
down_revision: str | None = "0017_wellbeing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The expression exactly as app/areas/placement.sector_of writes it.
    op.execute(
        "CREATE INDEX ix_venue_sector ON venue (substr(postcode, 1, length(postcode) - 2))"
    )
    # The planner knows how the sectors spread only once the table is analysed again
    # (statistics on an indexed expression come with ANALYZE, not with the index).
    op.execute("ANALYZE venue")


def downgrade() -> None:
    op.execute("DROP INDEX ix_venue_sector")
