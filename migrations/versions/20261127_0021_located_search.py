"""A located search reads one table (issue #14)

Each `activity_place` row (an activity at one of its live, located venues) gets a copy of
its activity's search facets, and on PostgreSQL its text vector, so a search with a place
filters and ranks the rows of its bounding box where it reads them, instead of looking up
every candidate's facet row and document by key.

Revision ID: 0021_located_search
Revises: 0020_organisation_public
Create Date: 2026-11-27 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.types

revision: str = "0021_located_search"
down_revision: str | None = "0020_organisation_public"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As app/search/models.SearchFacets was when this migration was written: (column, type,
# nullable).
FACETS = (
    ("name", sa.String(length=255), False),
    ("listed", sa.Boolean(), False),
    ("assured_until", sa.Date(), True),
    ("takes_referrals", sa.Boolean(), False),
    ("minimum_age", sa.Integer(), True),
    ("maximum_age", sa.Integer(), True),
    ("weekdays", sa.Integer(), False),
    ("delivery", sa.Integer(), False),
    ("cost_class", sa.Integer(), False),
    ("last_confirmed_at", app.core.types.UTCDateTime(timezone=True), False),
    (
        "term_ids",
        sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        False,
    ),
)
NAMES = [name for name, _, _ in FACETS]


def upgrade() -> None:
    with op.batch_alter_table("activity_place", schema=None) as batch_op:
        for name, type_, _ in FACETS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    # Every place row belongs to an indexed activity (both are written together); one that
    # did not would have nothing to copy, and is rebuilt by `signpost reindex-search`.
    op.execute(
        "DELETE FROM activity_place WHERE NOT EXISTS (SELECT 1 FROM activity_facet AS f "
        "WHERE f.activity_id = activity_place.activity_id)"
    )
    columns = ", ".join(NAMES)
    on_postgresql = op.get_bind().dialect.name == "postgresql"
    if on_postgresql:  # one pass over the table: the facets and the text vector together
        op.execute("ALTER TABLE activity_place ADD COLUMN tsv tsvector")
        op.execute(
            f"UPDATE activity_place AS p SET ({columns}, tsv) = "
            f"(SELECT {', '.join('f.' + name for name in NAMES)}, s.tsv "
            "FROM activity_facet AS f LEFT JOIN activity_search AS s "
            "ON s.activity_id = f.activity_id WHERE f.activity_id = p.activity_id)"
        )
    else:
        op.execute(
            f"UPDATE activity_place SET ({columns}) = (SELECT {columns} "
            "FROM activity_facet AS f WHERE f.activity_id = activity_place.activity_id)"
        )
    with op.batch_alter_table("activity_place", schema=None) as batch_op:
        for name, _, nullable in FACETS:
            if not nullable:
                batch_op.alter_column(
                    name,
                    nullable=False,
                    server_default="[]" if name == "term_ids" else None,
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE activity_place DROP COLUMN tsv")
    with op.batch_alter_table("activity_place", schema=None) as batch_op:
        for name in reversed(NAMES):
            batch_op.drop_column(name)
