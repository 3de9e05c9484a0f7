"""Which areas a venue, an activity, an organisation or a search is in: the one reading
of "in an area" that every report uses.

A place is in an area when its postcode sector ("BS5 6") or district ("BS5") is one of the
area's places. Areas keep what their places match as keys (``AreaKey``: a district's key
covers its sectors), so each subject is placed by a single equality: a venue by its
sector, a search by its sector or, when it was centred on a district alone, its district.
Each ``*_areas`` function is a select of (subject, area_id) pairs.
"""

import uuid
from collections.abc import Collection

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select, union
from sqlalchemy.orm import Session

from app.activities.models import Activity, ActivityVenue
from app.areas.models import AreaKey, OrganisationServedArea
from app.search.models import SearchLog
from app.venues.models import Venue


def sector_of(postcode) -> ColumnElement[str]:
    """ "BS5 6AW" -> "BS5 6": a normalised postcode less its last two letters. Written with
    literal numbers, so that statements say exactly what ``ix_venue_sector`` (migration
    0018) indexes, and one area's venues are read by index: bound parameters would not
    match it."""
    return func.substr(postcode, literal_column("1"), func.length(postcode) - literal_column("2"))


def _venue_pairs(subject, *where) -> Select:
    return (
        select(subject.label("subject"), AreaKey.area_id)
        .select_from(ActivityVenue)
        .join(Venue, Venue.id == ActivityVenue.venue_id)
        .join(AreaKey, AreaKey.key == sector_of(Venue.postcode))
        .where(Venue.archived_at.is_(None), *where)
        .distinct()
    )


def activity_areas() -> Select:
    """(activity id, area id): the areas of the live venues an activity meets at (today's
    places, for history too, as areas are today's boundaries)."""
    return _venue_pairs(ActivityVenue.activity_id)


def organisation_areas() -> Select:
    """(organisation id, area id): the areas of its live activities' live venues, and
    those it declares."""
    venues = _venue_pairs(Activity.organisation_id, Activity.archived_at.is_(None)).join(
        Activity, Activity.id == ActivityVenue.activity_id
    )
    declared = select(
        OrganisationServedArea.organisation_id.label("subject"), OrganisationServedArea.area_id
    )
    return union(venues, declared)


def search_areas() -> Select:
    """(search log id, area id): the areas of the sector (or district) it was centred on;
    one key per search, so no search counts twice in an area."""
    return select(SearchLog.id.label("subject"), AreaKey.area_id).join(
        AreaKey, AreaKey.key == func.coalesce(SearchLog.sector, SearchLog.outcode)
    )


def keys_of_areas(session: Session, area_ids: Collection[uuid.UUID]) -> list[str]:
    """The keys the areas' places match, as values a query can name."""
    return list(
        session.scalars(select(AreaKey.key).where(AreaKey.area_id.in_(list(area_ids)))).all()
    )


def search_in(keys: list[str]) -> ColumnElement[bool]:
    """Searches centred in the places of ``keys`` (``keys_of_areas``): by their sector, or
    their district when they had none. Written so each half can use its own index
    (search_log.sector, search_log.outcode) rather than scanning the log."""
    return or_(
        SearchLog.sector.in_(keys),
        and_(SearchLog.sector.is_(None), SearchLog.outcode.in_(keys)),
    )


def subjects_in(placed: Select, area_ids: Collection[uuid.UUID]) -> Select:
    """The subjects of ``placed`` that lie in any of ``area_ids``."""
    pairs = placed.subquery()
    return select(pairs.c.subject).where(pairs.c.area_id.in_(list(area_ids)))
