"""``/v1/areas``: the places reports compare. Anyone may read them; stewards and admins
keep them (every change audited)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.areas import service
from app.areas.models import Area, AreaKind
from app.areas.schemas import AreaCreate, AreaPage, AreaPublic, AreaUpdate
from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.idempotency.service import Idempotent, IdempotentRoute
from app.vocabulary.router import Curator

router = APIRouter(route_class=IdempotentRoute, prefix="/v1/areas", tags=["areas"])
AreaId = Annotated[uuid.UUID, Path(description="The area's id")]
KEEPING = problem_responses(401, 403, 404, 409, 422)


def _public(session: SessionDep, response: Response, area: Area) -> AreaPublic:
    set_etag(response, area.version)
    return service.public_one(session, area)


def _kept_area(session: SessionDep, _: Curator, area_id: AreaId) -> Area:
    return service.get_area(session, area_id, for_update=True)


KeptArea = Annotated[Area, Depends(_kept_area)]


@router.get("", responses=problem_responses(422))
def list_areas(
    session: StatementSessionDep,
    page: PageDep,
    kind: AreaKind | None = None,
    parent: Annotated[uuid.UUID | None, Query(description="Areas within this one")] = None,
    q: Annotated[str | None, Query(max_length=100, description="In the name or code")] = None,
) -> AreaPage:
    """Areas by kind and name, with the postcode districts and sectors each holds."""
    return service.list_areas(session, page, kind, parent, q)


@router.get("/{area_id}", responses=problem_responses(404, 422))
def get_area(session: StatementSessionDep, area_id: AreaId, response: Response) -> AreaPublic:
    """One area. The `ETag` header is what `If-Match` needs."""
    return _public(session, response, service.get_area(session, area_id))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=KEEPING,
    dependencies=[Idempotent],
)
def create_area(
    session: SessionDep, _: Curator, body: AreaCreate, response: Response
) -> AreaPublic:
    """Add an area (stewards and admins): its kind, name, official code if it has one,
    the area it lies within, and the postcode districts and sectors it holds. A code
    another area has is a 409."""
    area = service.create_area(session, body)
    response.headers["Location"] = f"/v1/areas/{area.id}"
    return _public(session, response, area)


@router.patch("/{area_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
def update_area(
    session: SessionDep,
    area: KeptArea,
    body: AreaUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> AreaPublic:
    """Rename, re-code, re-parent or re-draw an area (send `If-Match`); `places` replaces
    the whole list. Every report reads the new boundary at once."""
    check_if_match(if_match, area.version)
    return _public(session, response, service.update_area(session, area, body.changes()))


@router.delete("/{area_id}", status_code=status.HTTP_204_NO_CONTENT, responses=KEEPING)
def delete_area(session: SessionDep, area: KeptArea) -> Response:
    """Remove an area no other area lies within and no commissioner is limited to (409
    otherwise); organisations that declared it stop doing so."""
    service.delete_area(session, area)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
