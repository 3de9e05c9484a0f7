"""listings reach link workers: venues placed by postcode, a curated vocabulary with a
version number, the lexicon for correcting q, and unmatched search words

Revision ID: 0009_listings
Revises: 0008_hardening
Create Date: 2026-11-26 10:47:14.718451
"""

import csv
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.types

revision: str = '0009_listings'
down_revision: str | None = '0008_hardening'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The outcode centres shipped with the app, read here directly so this migration keeps
# working whatever later code does with them.
OUTCODES = Path(__file__).resolve().parents[2] / "app" / "geo" / "data" / "uk-outcodes.csv"


def upgrade() -> None:
    op.create_table('search_word',
    sa.Column('word', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.PrimaryKeyConstraint('word', name=op.f('pk_search_word'))
    )
    op.create_table('vocabulary_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('seeded', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vocabulary_state'))
    )
    # seeded = 1: the starter vocabulary before this release; the next seed-vocabulary (or
    # make run) adds this release's synonyms and links to the terms already there, once.
    op.execute("INSERT INTO vocabulary_state (id, version, seeded) VALUES (1, 1, 1)")
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unmatched', json_type, server_default='[]', nullable=False))

    with op.batch_alter_table('taxonomy_term', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', app.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('updated_at', app.core.types.UTCDateTime(timezone=True), server_default=sa.func.current_timestamp(), nullable=False))
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_index(batch_op.f('ix_taxonomy_term_updated_at'), ['updated_at'], unique=False)

    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location_precision', sa.Enum('postcode', 'outcode', 'manual', name='locationprecision', native_enum=False, length=32), server_default='outcode', nullable=False))

    # The defaults were for the rows already there; the app sets these from now on.
    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.alter_column('unmatched', server_default=None)
    with op.batch_alter_table('taxonomy_term', schema=None) as batch_op:
        batch_op.alter_column('updated_at', server_default=None)
        batch_op.alter_column('version', server_default=None)

    _place_existing_venues()


def _place_existing_venues() -> None:
    """Coordinates already stored were sent by hand; the rest are placed by postcode."""
    bind = op.get_bind()
    bind.execute(sa.text(
        "UPDATE venue SET location_precision = 'manual' WHERE latitude IS NOT NULL"
    ))
    unplaced = bind.execute(sa.text(
        "SELECT venue.id, venue.outcode, postcode.latitude, postcode.longitude FROM venue "
        "LEFT JOIN postcode ON postcode.postcode = venue.postcode WHERE venue.latitude IS NULL"
    )).all()
    if not unplaced:
        return
    with OUTCODES.open(newline="", encoding="utf-8") as handle:
        centres = {
            row["postcode"]: (float(row["latitude"]), float(row["longitude"]))
            for row in csv.DictReader(handle)
        }
    place = sa.text(
        "UPDATE venue SET latitude = :latitude, longitude = :longitude, "
        "location_precision = :precision WHERE id = :id"
    )
    for venue_id, outcode, latitude, longitude in unplaced:
        if latitude is not None:
            bind.execute(place, {"id": venue_id, "latitude": latitude, "longitude": longitude,
                                 "precision": "postcode"})
        elif outcode in centres:
            latitude, longitude = centres[outcode]
            bind.execute(place, {"id": venue_id, "latitude": latitude, "longitude": longitude,
                                 "precision": "outcode"})
    # The search's copy of venue coordinates (activity_place) is rebuilt on start-up by
    # refresh_missing only for unindexed activities, so add the newly placed venues here.
    bind.execute(sa.text(
        "INSERT INTO activity_place (activity_id, venue_id, latitude, longitude, accessibility) "
        "SELECT activity_venue.activity_id, venue.id, venue.latitude, venue.longitude, "
        "venue.accessibility FROM activity_venue JOIN venue ON venue.id = activity_venue.venue_id "
        "WHERE venue.archived_at IS NULL AND venue.latitude IS NOT NULL AND NOT EXISTS ("
        "SELECT 1 FROM activity_place p WHERE p.activity_id = activity_venue.activity_id "
        "AND p.venue_id = venue.id)"
    ))


def downgrade() -> None:
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.drop_column('location_precision')

    with op.batch_alter_table('taxonomy_term', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_taxonomy_term_updated_at'))
        batch_op.drop_column('version')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('retired_at')

    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.drop_column('unmatched')

    op.drop_table('vocabulary_state')
    op.drop_table('search_word')
