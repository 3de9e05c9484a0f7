import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from app.core.errors import Conflict, NotFound
from app.core.pagination import Page, PageParams, paginate
from app.core.sorting import ListingSort, order_by_clauses
from app.core.types import utcnow
from app.core.validation import validate_merged
from app.geo.postcodes import outcode_of
from app.venues.models import Venue
from app.venues.schemas import VenueCreate, VenuePublic


@dataclass(frozen=True)
class VenueFilters:
    outcode: str | None = None
    modified_after: datetime | None = None
    include_archived: bool = False
    sort: ListingSort = ListingSort.name


def list_venues(session: Session, filters: VenueFilters, params: PageParams) -> Page[VenuePublic]:
    statement = select(Venue)
    if filters.outcode:
        statement = statement.where(Venue.outcode == filters.outcode.upper().strip())
    if filters.modified_after:
        statement = statement.where(Venue.updated_at > filters.modified_after)
    if not filters.include_archived:
        statement = statement.where(Venue.archived_at.is_(None))
    statement = statement.order_by(*order_by_clauses(Venue, filters.sort))
    return paginate(session, statement, params, VenuePublic.model_validate)


def get_venue(session: Session, venue_id: uuid.UUID) -> Venue:
    venue = session.get(Venue, venue_id)
    if venue is None:
        raise NotFound(f"No venue with id {venue_id}")
    return venue


def create_venue(session: Session, data: VenueCreate) -> Venue:
    venue = Venue.model_validate(data, update={"outcode": outcode_of(data.postcode)})
    session.add(venue)
    session.flush()
    return venue


def update_venue(session: Session, venue: Venue, changes: dict) -> Venue:
    if venue.archived_at is not None:
        raise Conflict(f"Venue {venue.id} is archived and cannot be changed")
    merged = validate_merged(VenueCreate, venue, changes)
    venue.sqlmodel_update(changes)
    venue.postcode = merged.postcode
    venue.outcode = outcode_of(merged.postcode)
    venue.updated_at = utcnow()
    session.add(venue)
    session.flush()
    return venue


def archive_venue(session: Session, venue: Venue) -> Venue:
    if venue.archived_at is None:
        venue.archived_at = venue.updated_at = utcnow()
        session.add(venue)
        session.flush()
    return venue
