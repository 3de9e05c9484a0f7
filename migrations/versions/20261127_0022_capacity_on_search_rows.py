"""Search rows carry their activity's capacity (issue #14)

`activity_facet` and `activity_place` rows get a copy of the capacity columns the
capacity rule reads (status, when_full, available, the weekly cap and its counter, the end
of a pause), kept by app/capacity/service.py on every change. Whether a candidate is
taking referrals, which every search ranks on, is then worked out on the row the search
reads instead of by a look-up per candidate in `activity_capacity` (about 15 ms of the 45
of the benchmark's worst text search).

Revision ID: 0022_capacity_on_search_rows
Revises: 0021_located_search
Create Date: 2026-11-27 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.types

revision: str = "0022_capacity_on_search_rows"
down_revision: str | None = "0021_located_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As app/search/models.SearchFacets' capacity_* columns were when this was written.
COPIED = (
    ("status", sa.String(length=32)),
    ("when_full", sa.String(length=32)),
    ("available", sa.Integer()),
    ("weekly_referral_cap", sa.Integer()),
    ("week_starting", sa.Date()),
    ("referrals_this_week", sa.Integer()),
    ("paused_until", app.core.types.UTCDateTime(timezone=True)),
)
TABLES = ("activity_facet", "activity_place")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, type_ in COPIED:
                batch_op.add_column(sa.Column(f"capacity_{name}", type_, nullable=True))
        if op.get_bind().dialect.name == "postgresql":  # one join over the whole table
            settings = ", ".join(f"capacity_{name} = c.{name}" for name, _ in COPIED)
            op.execute(
                f"UPDATE {table} SET {settings} FROM activity_capacity AS c "
                f"WHERE c.activity_id = {table}.activity_id"
            )
        else:  # row values, as 0021: SQLite has UPDATE ... FROM only since 3.33
            names = [name for name, _ in COPIED]
            op.execute(
                f"UPDATE {table} SET ({', '.join(f'capacity_{n}' for n in names)}) = "
                f"(SELECT {', '.join(names)} FROM activity_capacity AS c "
                f"WHERE c.activity_id = {table}.activity_id)"
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in reversed(COPIED):
                batch_op.drop_column(f"capacity_{name}")
