from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.core.sorting import ListingSort
from app.venues import service
from app.venues.deps import VenueDep
from app.venues.schemas import (
    VenueCreate,
    VenuePage,
    VenuePublic,
    VenueUpdate,
)

router = APIRouter(prefix="/v1/venues", tags=["venues"])


@router.get("", responses=problem_responses(422))
def list_venues(
    session: SessionDep,
    page: PageDep,
    outcode: Annotated[
        str | None, Query(max_length=4, description='Postcode district, e.g. "BS5"')
    ] = None,
    modified_after: Annotated[
        datetime | None, Query(description="Only those changed after this time (ISO 8601)")
    ] = None,
    include_archived: bool = False,
    sort: ListingSort = ListingSort.name,
) -> VenuePage:
    """List venues, filtered and sorted; archived ones only when asked for."""
    filters = service.VenueFilters(
        outcode=outcode, modified_after=modified_after, include_archived=include_archived, sort=sort
    )
    return service.list_venues(session, filters, page)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 422))
def create_venue(session: SessionDep, body: VenueCreate) -> VenuePublic:
    """Create a venue. The postcode is normalised ("bs56at" becomes "BS5 6AT")."""
    return service.create_venue(session, body)


@router.get("/{venue_id}", responses=problem_responses(404, 422))
def get_venue(venue: VenueDep) -> VenuePublic:
    """One venue, archived or not."""
    return venue


@router.patch("/{venue_id}", responses=problem_responses(404, 409, 422))
def update_venue(session: SessionDep, venue: VenueDep, body: VenueUpdate) -> VenuePublic:
    """Change the fields sent; fields left out stay as they are."""
    return service.update_venue(session, venue, body.changes())


@router.post("/{venue_id}/archive", responses=problem_responses(404, 422))
def archive_venue(session: SessionDep, venue: VenueDep) -> VenuePublic:
    """Archive a venue. Activities keep their link to it; nothing is deleted."""
    return service.archive_venue(session, venue)
