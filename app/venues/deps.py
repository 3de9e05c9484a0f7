import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.core.db import SessionDep
from app.venues import service
from app.venues.models import Venue


def venue_from_path(
    session: SessionDep, venue_id: Annotated[uuid.UUID, Path(description="The venue's id")]
) -> Venue:
    return service.get_venue(session, venue_id)


VenueDep = Annotated[Venue, Depends(venue_from_path)]
