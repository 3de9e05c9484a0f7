"""``/v1/organisations/{id}/closures``: days an organisation, or one of its activities, does
not meet. Search results and summaries skip them in ``next_session`` and say so."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.closures import service
from app.closures.schemas import ClosureCreate, ClosurePublic
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.idempotency.service import Idempotent, IdempotentRoute
from app.organisations.deps import EditableOrganisation, VisibleOrganisation
from app.search.schedule import uk_today

router = APIRouter(
    route_class=IdempotentRoute,
    prefix="/v1/organisations/{organisation_id}/closures",
    tags=["activities"],
)
ClosureId = Annotated[uuid.UUID, Path(description="The closure's id")]


@router.get("", responses=problem_responses(404, 422))
def list_closures(
    session: StatementSessionDep,
    organisation: VisibleOrganisation,
    include_past: Annotated[
        bool, Query(description="Also closures already over (by default only those not over)")
    ] = False,
) -> list[ClosurePublic]:
    """The organisation's closures, its own and its activities', by first day. Public for a
    published organisation, like its listings."""
    since = None if include_past else uk_today()
    return [
        ClosurePublic.model_validate(c)
        for c in service.list_closures(session, organisation.id, since)
    ]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    dependencies=[Idempotent],
)
def create_closure(
    session: SessionDep, organisation: EditableOrganisation, body: ClosureCreate, response: Response
) -> ClosurePublic:
    """Close the organisation (every activity), or one activity with `activity_id`, from
    `starts_on` to `ends_on` inclusive (one day when `ends_on` is left out; e.g. "closed
    24 Dec to 2 Jan", "no session on 5 May"). Its members and stewards."""
    closure = service.create_closure(session, organisation.id, body)
    response.headers["Location"] = f"/v1/organisations/{organisation.id}/closures"
    return ClosurePublic.model_validate(closure)


@router.delete(
    "/{closure_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
)
def delete_closure(
    session: SessionDep, organisation: EditableOrganisation, closure_id: ClosureId
) -> Response:
    """Open again: take the closure away (sessions on those days are back at once)."""
    service.delete_closure(session, organisation.id, closure_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
