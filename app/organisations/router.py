from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from app.accounts.deps import Authenticated, CurrentPrincipal, require_roles
from app.accounts.models import GlobalRole
from app.core.concurrency import set_etag
from app.core.csv_writer import CSV_RESPONSE, FormatDep, ReportFormat, csv_download
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.inputs import Instant
from app.core.pagination import PageDep
from app.core.sorting import ListingSort
from app.idempotency.service import Idempotent, IdempotentRoute
from app.organisations import service
from app.organisations.deps import (
    AdministeredOrganisation,
    OrganisationForUpdate,
    VisibleOrganisation,
)
from app.organisations.models import LegalForm, Organisation, OrganisationStatus
from app.organisations.schemas import (
    OrganisationCreate,
    OrganisationPage,
    OrganisationPublic,
    OrganisationUpdate,
)

router = APIRouter(route_class=IdempotentRoute, prefix="/v1/organisations", tags=["organisations"])


def _public(
    session: SessionDep, response: Response, organisation: Organisation
) -> OrganisationPublic:
    set_etag(response, organisation.version)
    return service.public_one(session, organisation)


@router.get(
    "",
    response_model=OrganisationPage,
    responses={
        200: {"content": CSV_RESPONSE, "description": "A page as JSON, or every match as CSV"},
        **problem_responses(401, 422),
    },
)
def list_organisations(
    session: StatementSessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    fmt: FormatDep,
    status_: Annotated[OrganisationStatus | None, Query(alias="status")] = None,
    legal_form: LegalForm | None = None,
    modified_after: Annotated[
        Instant | None, Query(description="Only those changed after this time (ISO 8601)")
    ] = None,
    include_archived: bool = False,
    sort: ListingSort = ListingSort.name,
) -> Any:
    """List organisations the caller may see: published ones for everyone, plus their own
    for members, plus all for stewards and admins. As CSV (`format=csv` or
    `Accept: text/csv`): every match, one row each."""
    filters = service.OrganisationFilters(
        status=status_,
        legal_form=legal_form,
        modified_after=modified_after,
        include_archived=include_archived,
        sort=sort,
    )
    if fmt is ReportFormat.csv:
        return csv_download(
            "organisations.csv",
            service.CSV_COLUMNS,
            lambda reader: service.every_organisation_row(reader, principal, filters),
        )
    return service.list_organisations(session, principal, filters, page)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    dependencies=[Idempotent],
)
def create_organisation(
    session: SessionDep, principal: Authenticated, body: OrganisationCreate, response: Response
) -> OrganisationPublic:
    """Register an organisation. Whoever registers it becomes its admin. Only stewards
    and admins may create it suspended."""
    organisation = service.create_organisation(session, principal, body)
    response.headers["Location"] = f"/v1/organisations/{organisation.id}"
    return _public(session, response, organisation)


@router.get("/{organisation_id}", responses=problem_responses(401, 404, 422))
def get_organisation(
    session: StatementSessionDep, organisation: VisibleOrganisation, response: Response
) -> OrganisationPublic:
    """One organisation. The `ETag` header is what `If-Match` needs to change it."""
    return _public(session, response, organisation)


@router.patch("/{organisation_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
def update_organisation(
    session: SessionDep,
    principal: Authenticated,
    organisation: OrganisationForUpdate,
    body: OrganisationUpdate,
    response: Response,
) -> OrganisationPublic:
    """Change the fields sent (send `If-Match` with the ETag you read). Members may publish
    or unpublish; suspending is for stewards and admins."""
    updated = service.update_organisation(session, principal, organisation, body.changes())
    return _public(session, response, updated)


@router.post(
    "/{organisation_id}/verify",
    responses=problem_responses(401, 403, 404, 409, 422),
    dependencies=[Depends(require_roles(GlobalRole.steward, GlobalRole.admin))],
)
def verify_organisation(
    session: SessionDep,
    principal: Authenticated,
    organisation: VisibleOrganisation,
    response: Response,
) -> OrganisationPublic:
    """Record that a steward has checked the organisation's details. Stewards and admins."""
    return _public(session, response, service.verify_organisation(session, principal, organisation))


@router.post("/{organisation_id}/archive", responses=problem_responses(401, 403, 404, 422))
def archive_organisation(
    session: SessionDep, organisation: AdministeredOrganisation, response: Response
) -> OrganisationPublic:
    """Archive the organisation and all its activities (its admins, stewards, admins).
    Nothing is deleted."""
    return _public(session, response, service.archive_organisation(session, organisation))
