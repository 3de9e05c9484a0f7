import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, select

from app.accounts.principal import Principal
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.pagination import Page, PageParams, paginate
from app.core.sorting import ListingSort, order_by_clauses
from app.core.types import utcnow
from app.core.validation import validate_merged
from app.geo.models import Postcode
from app.geo.postcodes import outcode_of
from app.geo.service import check_near_postcode, resolve_postcode
from app.organisations import visibility
from app.search import indexing as search_index
from app.venues.models import LocationPrecision, Venue
from app.venues.schemas import VenueCreate, VenuePublic


@dataclass(frozen=True)
class VenueFilters:
    outcode: str | None = None
    modified_after: datetime | None = None
    include_archived: bool = False
    sort: ListingSort = ListingSort.name


def list_venues(
    session: Session, principal: Principal, filters: VenueFilters, params: PageParams
) -> Page[VenuePublic]:
    statement = select(Venue).where(_visible_to(principal))
    if filters.outcode:
        statement = statement.where(Venue.outcode == filters.outcode.upper().strip())
    if filters.modified_after:
        statement = statement.where(Venue.updated_at > filters.modified_after)
    if not filters.include_archived:
        statement = statement.where(Venue.archived_at.is_(None))
    statement = statement.order_by(*order_by_clauses(Venue, filters.sort))
    return paginate(session, statement, params, VenuePublic.model_validate)


def _visible_to(principal: Principal) -> ColumnElement[bool]:
    """Venues are public places, except those an organisation the caller cannot see (a
    draft, say) manages: those are part of its unpublished listing."""
    managed_by = Venue.managed_by_organisation_id
    return or_(managed_by.is_(None), visibility.belongs_to_visible(managed_by, principal))


def get_venue(session: Session, principal: Principal, venue_id: uuid.UUID) -> Venue:
    venue = session.get(Venue, venue_id)
    managed_by = venue.managed_by_organisation_id if venue else None
    if venue is None or (
        managed_by is not None and not visibility.is_visible_id(session, principal, managed_by)
    ):
        raise NotFound(f"No venue with id {venue_id}")
    return venue


def require_venue_editor(principal: Principal, venue: Venue) -> None:
    """Stewards and admins keep every venue; members keep their organisation's venues."""
    managed_by = venue.managed_by_organisation_id
    if not principal.is_steward_or_admin and (
        managed_by is None or not principal.can_edit_organisation(managed_by)
    ):
        raise Forbidden("Only the managing organisation's members, stewards and admins may")


def _require_manager(principal: Principal, organisation_id: uuid.UUID | None) -> None:
    if principal.is_steward_or_admin:
        return
    if organisation_id is None or not principal.can_edit_organisation(organisation_id):
        raise Forbidden("Set managed_by_organisation_id to an organisation you are a member of")


def create_venue(
    session: Session, principal: Principal, data: VenueCreate, new_id: uuid.UUID | None = None
) -> Venue:
    """``new_id``: the id to give it (an import keeps its source's ids where it can)."""
    _require_manager(principal, data.managed_by_organisation_id)
    venue = Venue.model_validate(
        data, update={"outcode": outcode_of(data.postcode), "id": new_id or uuid.uuid4()}
    )
    _place(session, venue, manual=data.latitude is not None)
    session.add(venue)
    session.flush()
    return venue


def _place(session: Session, venue: Venue, manual: bool) -> None:
    """Coordinates sent with the venue are kept (once checked against its postcode);
    otherwise the venue is placed by its postcode, as precisely as the tables allow."""
    if manual:
        check_near_postcode(session, venue.latitude, venue.longitude, venue.postcode)
        venue.location_precision = LocationPrecision.manual
        return
    found = resolve_postcode(session, venue.postcode, "body.postcode")
    venue.latitude, venue.longitude = found.latitude, found.longitude
    venue.location_precision = LocationPrecision(found.precision)


def outcode_placed_with_postcode(session: Session) -> list[tuple[Venue, Postcode]]:
    """Venues placed at their district's centre whose full postcode is now known."""
    return list(
        session.exec(
            select(Venue, Postcode)
            .join(Postcode, Postcode.postcode == Venue.postcode)
            .where(Venue.location_precision == LocationPrecision.outcode)
        )
    )


def place_at_postcode(session: Session, venue: Venue, postcode: Postcode) -> None:
    """Move a venue to its full postcode's coordinates; ``refresh_venues`` afterwards."""
    venue.latitude, venue.longitude = postcode.latitude, postcode.longitude
    venue.location_precision = LocationPrecision.postcode
    session.add(venue)


def update_venue(session: Session, principal: Principal, venue: Venue, changes: dict) -> Venue:
    if venue.archived_at is not None:
        raise Conflict(f"Venue {venue.id} is archived and cannot be changed")
    if "managed_by_organisation_id" in changes:
        _require_manager(principal, changes["managed_by_organisation_id"])
    merged = validate_merged(VenueCreate, venue, changes)
    moved = merged.postcode != venue.postcode
    # A client sending back the coordinates it read has not placed the venue by hand.
    sent_coordinates = changes.get("latitude") is not None and (
        venue.location_precision == LocationPrecision.manual
        or (changes["latitude"], changes.get("longitude")) != (venue.latitude, venue.longitude)
    )
    venue.sqlmodel_update(changes)
    venue.postcode = merged.postcode
    venue.outcode = outcode_of(merged.postcode)
    if moved or "latitude" in changes:
        # New coordinates are kept; a new postcode, or coordinates cleared, re-places it.
        _place(session, venue, manual=sent_coordinates)
    venue.updated_at = utcnow()
    session.add(venue)
    session.flush()
    search_index.refresh_venue(session, venue.id)
    return venue


def archive_venue(session: Session, venue: Venue) -> Venue:
    if venue.archived_at is None:
        venue.archived_at = venue.updated_at = utcnow()
        session.add(venue)
        session.flush()
        search_index.refresh_venue(session, venue.id)
    return venue
