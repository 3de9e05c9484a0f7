"""Public organisations indexed apart (issue #14)

Public lists and feeds check each activity's organisation (published and live). By a
partial index on the public organisations' ids that check is an index-only scan instead of
a read of the organisation's row: an anonymous page of `GET /v1/activities` 30 pages in went
from 7.1 to 4.1-5.3 ms of SQL on the 200,000-activity benchmark.

Revision ID: 0020_organisation_public
Revises: 0019_search_phrases
Create Date: 2026-11-27 11:36:27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_organisation_public"
down_revision: str | None = "0019_search_phrases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As app/organisations/models.PUBLIC (kept here as it was when this migration was written).
PUBLIC = "status = 'published' AND archived_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_organisation_public",
        "organisation",
        ["id"],
        postgresql_where=sa.text(PUBLIC),
        sqlite_where=sa.text(PUBLIC),
    )


def downgrade() -> None:
    op.drop_index("ix_organisation_public", table_name="organisation")
