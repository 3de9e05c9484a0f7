from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.accounts.deps import Authenticated, CurrentPrincipal
from app.core.concurrency import set_etag
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.inputs import Instant
from app.core.pagination import PageDep
from app.core.sorting import ListingSort
from app.idempotency.service import Idempotent, IdempotentRoute
from app.venues import service
from app.venues.deps import EditableVenue, VenueDep, VenueForUpdate
from app.venues.models import Venue
from app.venues.schemas import VenueCreate, VenuePage, VenuePublic, VenueUpdate

router = APIRouter(route_class=IdempotentRoute, prefix="/v1/venues", tags=["venues"])


def _with_etag(response: Response, venue: Venue) -> Venue:
    set_etag(response, venue.version)
    return venue


@router.get("", responses=problem_responses(401, 422))
def list_venues(
    session: StatementSessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    outcode: Annotated[
        str | None, Query(max_length=4, description='Postcode district, e.g. "BS5"')
    ] = None,
    modified_after: Annotated[
        Instant | None, Query(description="Only those changed after this time (ISO 8601)")
    ] = None,
    include_archived: bool = False,
    sort: ListingSort = ListingSort.name,
) -> VenuePage:
    """List venues: public places, visible to everyone, except those managed by an
    organisation you cannot see (a draft's venues are part of its unpublished listing)."""
    filters = service.VenueFilters(
        outcode=outcode, modified_after=modified_after, include_archived=include_archived, sort=sort
    )
    return service.list_venues(session, principal, filters, page)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    dependencies=[Idempotent],
)
def create_venue(
    session: SessionDep, principal: Authenticated, body: VenueCreate, response: Response
) -> VenuePublic:
    """Create a venue. Organisation members set `managed_by_organisation_id` to their
    organisation. The postcode is normalised ("bs56at" becomes "BS5 6AT") and places the
    venue on the map (`location_precision`: `postcode` from the full postcode table, else
    `outcode`, its district's centre) unless you send coordinates, which must lie within
    60 km of the postcode. A postcode in no known district is a 422."""
    venue = service.create_venue(session, principal, body)
    response.headers["Location"] = f"/v1/venues/{venue.id}"
    return _with_etag(response, venue)


@router.get("/{venue_id}", responses=problem_responses(404, 422))
def get_venue(venue: VenueDep, response: Response) -> VenuePublic:
    """One venue, archived or not. The `ETag` header is what `If-Match` needs."""
    return _with_etag(response, venue)


@router.patch("/{venue_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
def update_venue(
    session: SessionDep,
    principal: Authenticated,
    venue: VenueForUpdate,
    body: VenueUpdate,
    response: Response,
) -> VenuePublic:
    """Change the fields sent (send `If-Match` with the ETag you read). A new postcode
    places the venue by that postcode again; so does sending `latitude` and `longitude` as
    null. Coordinates sent are kept (`location_precision: manual`)."""
    return _with_etag(response, service.update_venue(session, principal, venue, body.changes()))


@router.post("/{venue_id}/archive", responses=problem_responses(401, 403, 404, 422))
def archive_venue(session: SessionDep, venue: EditableVenue, response: Response) -> VenuePublic:
    """Archive a venue. Activities keep their link to it; nothing is deleted."""
    return _with_etag(response, service.archive_venue(session, venue))
