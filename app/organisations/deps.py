import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.core.db import SessionDep
from app.organisations import service
from app.organisations.models import Organisation


def organisation_from_path(
    session: SessionDep,
    organisation_id: Annotated[uuid.UUID, Path(description="The organisation's id")],
) -> Organisation:
    return service.get_organisation(session, organisation_id)


OrganisationDep = Annotated[Organisation, Depends(organisation_from_path)]
