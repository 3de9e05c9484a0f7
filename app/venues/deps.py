import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.accounts.deps import Authenticated, CurrentPrincipal
from app.core.concurrency import IfMatch, check_if_match
from app.core.db import LoaderSessionDep
from app.venues import service
from app.venues.models import Venue


def venue_from_path(
    session: LoaderSessionDep,
    principal: CurrentPrincipal,
    venue_id: Annotated[uuid.UUID, Path(description="The venue's id")],
) -> Venue:
    return service.get_venue(session, principal, venue_id)


VenueDep = Annotated[Venue, Depends(venue_from_path)]


def editable_venue(principal: Authenticated, venue: VenueDep) -> Venue:
    service.require_venue_editor(principal, venue)
    return venue


EditableVenue = Annotated[Venue, Depends(editable_venue)]


def venue_for_update(venue: EditableVenue, if_match: IfMatch = None) -> Venue:
    check_if_match(if_match, venue.version)
    return venue


VenueForUpdate = Annotated[Venue, Depends(venue_for_update)]
