"""Which areas a venue, an activity, an organisation or a search is in: the one reading
of "in an area" that every report uses.

A place is in an area when its postcode district ("BS5") or sector ("BS5 6") is one of the
area's places. Each ``*_areas`` function is a select of (subject, area_id) pairs, built
from two equality joins (district; sector) so both databases can hash them.
"""

import uuid
from collections.abc import Collection

from sqlalchemy import ColumnElement, Select, func, select, union

from app.activities.models import Activity, ActivityVenue
from app.areas.models import AreaPlace, OrganisationServedArea
from app.search.models import SearchLog
from app.venues.models import Venue


def sector_of(postcode) -> ColumnElement[str]:
    """ "BS5 6AW" -> "BS5 6": a normalised postcode less its last two letters."""
    return func.substr(postcode, 1, func.length(postcode) - 2)


def _placed(subject, outcode, sector, source, *where) -> list[Select]:
    """The two joins (district; sector), to be put in one UNION with any others (SQLite
    takes no nested UNION)."""
    return [
        select(subject.label("subject"), AreaPlace.area_id)
        .select_from(source)
        .join(AreaPlace, AreaPlace.prefix == place)
        .where(*where)
        for place in (outcode, sector)
    ]


def activity_areas() -> Select:
    """(activity id, area id): the areas of the live venues an activity meets at (today's
    places, for history too, as areas are today's boundaries)."""
    source = ActivityVenue.__table__.join(Venue, Venue.id == ActivityVenue.venue_id)
    return union(
        *_placed(
            ActivityVenue.activity_id,
            Venue.outcode,
            sector_of(Venue.postcode),
            source,
            Venue.archived_at.is_(None),
        )
    )


def organisation_areas() -> Select:
    """(organisation id, area id): the areas of its activities' venues, and those it
    declares."""
    source = ActivityVenue.__table__.join(Venue, Venue.id == ActivityVenue.venue_id).join(
        Activity, Activity.id == ActivityVenue.activity_id
    )
    venues = _placed(Activity.organisation_id, Venue.outcode, sector_of(Venue.postcode), source)
    declared = select(
        OrganisationServedArea.organisation_id.label("subject"), OrganisationServedArea.area_id
    )
    return union(*venues, declared)


def search_areas() -> Select:
    """(search log id, area id): the areas of the district or sector it was centred on."""
    return union(*_placed(SearchLog.id, SearchLog.outcode, SearchLog.sector, SearchLog.__table__))


def subjects_in(placed: Select, area_ids: Collection[uuid.UUID]) -> Select:
    """The subjects of ``placed`` that lie in any of ``area_ids``."""
    pairs = placed.subquery()
    return select(pairs.c.subject).where(pairs.c.area_id.in_(list(area_ids)))
