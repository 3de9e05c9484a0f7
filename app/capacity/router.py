from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.accounts.deps import Authenticated
from app.accounts.models import GlobalRole
from app.activities.deps import EditableActivity, VisibleActivity
from app.capacity import service
from app.capacity.schemas import CapacityChangePage, CapacityPublic, CapacityUpdate
from app.core.concurrency import IfMatch, check_if_match, set_etag
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import Forbidden, problem_responses
from app.core.inputs import Instant
from app.core.pagination import PageDep
from app.core.types import utcnow

router = APIRouter(prefix="/v1/activities/{activity_id}/capacity", tags=["capacity"])


@router.get("", responses=problem_responses(401, 404, 422))
def get_capacity(
    session: StatementSessionDep, activity: VisibleActivity, response: Response
) -> CapacityPublic:
    """The activity's capacity, as anyone who may see the activity sees it. `status` is
    the effective status; `status_reason` says why it is not open."""
    capacity = service.get_capacity(session, activity.id)
    set_etag(response, capacity.version)
    return service.to_public(capacity, utcnow())


@router.patch("", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
def update_capacity(
    session: SessionDep,
    activity: EditableActivity,
    body: CapacityUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> CapacityPublic:
    """Change capacity in one call (the organisation's members, stewards and admins).
    Send `If-Match` with the ETag of your last read: referrals change places too, so a
    stale write is refused rather than lost. Leaving `paused` clears the pause."""
    capacity = service.get_capacity(session, activity.id)
    check_if_match(if_match, capacity.version)
    capacity = service.update_capacity(session, capacity, body.changes(), utcnow())
    set_etag(response, capacity.version)
    return service.to_public(capacity, utcnow())


@router.get("/history", responses=problem_responses(401, 403, 404, 422))
def list_capacity_history(
    session: StatementSessionDep,
    principal: Authenticated,
    activity: VisibleActivity,
    page: PageDep,
    since: Annotated[Instant | None, Query(description="Changes at or after this time")] = None,
    until: Annotated[Instant | None, Query(description="Changes before this time")] = None,
) -> CapacityChangePage:
    """Every capacity change, newest first (the organisation's members, stewards,
    commissioners and admins)."""
    if not (
        principal.can_edit_organisation(activity.organisation_id)
        or principal.has_role(GlobalRole.commissioner)
    ):
        raise Forbidden("Capacity history is for the organisation, stewards and commissioners")
    return service.list_history(session, activity.id, page, since, until)
