import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.accounts.deps import Authenticated, require_organisation_editor, require_roles
from app.accounts.models import GlobalRole
from app.accounts.principal import Principal
from app.assurance import service
from app.assurance.models import AssuranceItem, AssuranceKind, ReviewStatus
from app.assurance.review_queue import ReviewQueue, review_queue
from app.assurance.schemas import (
    AssuranceItemCreate,
    AssuranceItemPage,
    AssuranceItemPublic,
    AssuranceItemUpdate,
    AssurancePublic,
    Rejection,
)
from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.db import LoaderSessionDep, SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.core.types import utcnow
from app.idempotency.service import Idempotent, IdempotentRoute
from app.organisations.deps import VisibleOrganisation

router = APIRouter(route_class=IdempotentRoute, tags=["assurance"])


def visible_item(
    session: LoaderSessionDep,
    principal: Authenticated,
    item_id: Annotated[uuid.UUID, Path(description="The assurance item's id")],
) -> AssuranceItem:
    return service.get_item(session, principal, item_id)


VisibleItem = Annotated[AssuranceItem, Depends(visible_item)]
StewardOrAdmin = Annotated[Principal, Depends(require_roles(GlobalRole.steward, GlobalRole.admin))]


def _one(session, principal, response: Response, item: AssuranceItem) -> AssuranceItemPublic:
    set_etag(response, item.version)
    return service.to_public(session, principal, [item], utcnow().date())[0]


@router.get(
    "/v1/organisations/{organisation_id}/assurance", responses=problem_responses(401, 404, 422)
)
def get_assurance(
    session: StatementSessionDep, principal: Authenticated, organisation: VisibleOrganisation
) -> AssurancePublic:
    """The organisation's assurance level and items, with each item's status as of today.
    Evidence references and notes are shown to the organisation's members, stewards and
    admins only."""
    return service.summary(session, principal, organisation.id, utcnow().date())


@router.post(
    "/v1/organisations/{organisation_id}/assurance-items",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    dependencies=[Idempotent],
)
def create_assurance_item(
    session: SessionDep,
    principal: Authenticated,
    organisation: VisibleOrganisation,
    body: AssuranceItemCreate,
    response: Response,
) -> AssuranceItemPublic:
    """Submit an item (the organisation's members, or an admin). It is `pending` until a
    steward reviews it. One item per kind, except training (one per course)."""
    item = service.create_item(session, principal, organisation.id, body, utcnow())
    response.headers["Location"] = f"/v1/assurance-items/{item.id}"
    return _one(session, principal, response, item)


@router.get("/v1/assurance-items", responses=problem_responses(401, 403, 422))
def list_assurance_items(
    session: StatementSessionDep,
    principal: StewardOrAdmin,
    page: PageDep,
    review_status: ReviewStatus | None = None,
    kind: AssuranceKind | None = None,
    organisation: Annotated[uuid.UUID | None, Query(description="Of this organisation")] = None,
) -> AssuranceItemPage:
    """Items across organisations, oldest submission first: the stewards' review list
    (`review_status=pending`)."""
    return service.list_items(session, principal, review_status, kind, organisation, page)


@router.get("/v1/assurance-items/{item_id}", responses=problem_responses(401, 404, 422))
def get_assurance_item(
    session: StatementSessionDep, principal: Authenticated, item: VisibleItem, response: Response
) -> AssuranceItemPublic:
    """One item (evidence for the organisation's members, stewards and admins only)."""
    return _one(session, principal, response, item)


@router.patch(
    "/v1/assurance-items/{item_id}",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
def update_assurance_item(
    session: SessionDep,
    principal: Authenticated,
    item: VisibleItem,
    body: AssuranceItemUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> AssuranceItemPublic:
    """Change facts or evidence (the organisation's members, or an admin; send If-Match).
    A verified or rejected item goes back to `pending`; the audit log keeps the verified
    version."""
    service.require_submitter(principal, item.organisation_id)
    check_if_match(if_match, item.version)
    item = service.update_item(session, item, body.changes(), utcnow())
    return _one(session, principal, response, item)


@router.post(
    "/v1/assurance-items/{item_id}/verify", responses=problem_responses(401, 403, 404, 409, 422)
)
def verify_assurance_item(
    session: SessionDep, principal: Authenticated, item: VisibleItem, response: Response
) -> AssuranceItemPublic:
    """Verify a pending item (stewards only). A lapsed item cannot be verified."""
    item = service.verify_item(session, principal, item, utcnow())
    return _one(session, principal, response, item)


@router.post(
    "/v1/assurance-items/{item_id}/reject", responses=problem_responses(401, 403, 404, 409, 422)
)
def reject_assurance_item(
    session: SessionDep,
    principal: Authenticated,
    item: VisibleItem,
    body: Rejection,
    response: Response,
) -> AssuranceItemPublic:
    """Reject an item with the reason (stewards only): the organisation sees it in its
    review queue."""
    item = service.reject_item(session, principal, item, body.reason, utcnow())
    return _one(session, principal, response, item)


@router.get(
    "/v1/organisations/{organisation_id}/review-queue",
    responses=problem_responses(401, 403, 404, 422),
)
def get_review_queue(
    session: StatementSessionDep, principal: Authenticated, organisation: VisibleOrganisation
) -> ReviewQueue:
    """What needs attention, most urgent first: stale and due-for-review activities,
    expired, rejected, missing and expiring assurance (the organisation's members,
    stewards and admins)."""
    require_organisation_editor(principal, organisation.id)
    return review_queue(session, organisation.id, utcnow())
