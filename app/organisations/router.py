from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.core.sorting import ListingSort
from app.organisations import service
from app.organisations.deps import OrganisationDep
from app.organisations.models import LegalForm, OrganisationStatus
from app.organisations.schemas import (
    OrganisationCreate,
    OrganisationPage,
    OrganisationPublic,
    OrganisationUpdate,
)

router = APIRouter(prefix="/v1/organisations", tags=["organisations"])


@router.get("", responses=problem_responses(422))
def list_organisations(
    session: SessionDep,
    page: PageDep,
    status_: Annotated[OrganisationStatus | None, Query(alias="status")] = None,
    legal_form: LegalForm | None = None,
    modified_after: Annotated[
        datetime | None, Query(description="Only those changed after this time (ISO 8601)")
    ] = None,
    include_archived: bool = False,
    sort: ListingSort = ListingSort.name,
) -> OrganisationPage:
    """List organisations, filtered and sorted; archived ones only when asked for."""
    filters = service.OrganisationFilters(
        status=status_,
        legal_form=legal_form,
        modified_after=modified_after,
        include_archived=include_archived,
        sort=sort,
    )
    return service.list_organisations(session, filters, page)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 422))
def create_organisation(session: SessionDep, body: OrganisationCreate) -> OrganisationPublic:
    """Create an organisation (a draft unless `status` says otherwise)."""
    return service.create_organisation(session, body)


@router.get("/{organisation_id}", responses=problem_responses(404, 422))
def get_organisation(organisation: OrganisationDep) -> OrganisationPublic:
    """One organisation, archived or not."""
    return organisation


@router.patch("/{organisation_id}", responses=problem_responses(404, 409, 422))
def update_organisation(
    session: SessionDep, organisation: OrganisationDep, body: OrganisationUpdate
) -> OrganisationPublic:
    """Change the fields sent; fields left out stay as they are."""
    return service.update_organisation(session, organisation, body.changes())


@router.post("/{organisation_id}/archive", responses=problem_responses(404, 422))
def archive_organisation(session: SessionDep, organisation: OrganisationDep) -> OrganisationPublic:
    """Archive the organisation and all its activities. Nothing is deleted."""
    return service.archive_organisation(session, organisation)
