import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.activities import service
from app.activities.deps import ActivityDep
from app.activities.models import ActivityStatus
from app.activities.schemas import (
    ActivityCreate,
    ActivityPage,
    ActivityPublic,
    ActivityUpdate,
)
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.core.sorting import ListingSort

router = APIRouter(prefix="/v1/activities", tags=["activities"])


@router.get("", responses=problem_responses(422))
def list_activities(
    session: SessionDep,
    page: PageDep,
    organisation: Annotated[uuid.UUID | None, Query(description="Run by this organisation")] = None,
    status_: Annotated[ActivityStatus | None, Query(alias="status")] = None,
    term: Annotated[
        list[uuid.UUID],
        Query(max_length=20, description="Tagged with any of these terms (repeatable)"),
    ] = [],  # noqa: B006 - FastAPI copies the default per request
    venue: Annotated[uuid.UUID | None, Query(description="Held at this venue")] = None,
    modified_after: Annotated[
        datetime | None, Query(description="Only those changed after this time (ISO 8601)")
    ] = None,
    include_archived: bool = False,
    sort: ListingSort = ListingSort.name,
) -> ActivityPage:
    """List activities with their schedules, terms and venues."""
    filters = service.ActivityFilters(
        organisation_id=organisation,
        status=status_,
        term_ids=tuple(term),
        venue_id=venue,
        modified_after=modified_after,
        include_archived=include_archived,
        sort=sort,
    )
    return service.list_activities(session, filters, page)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 422))
def create_activity(session: SessionDep, body: ActivityCreate) -> ActivityPublic:
    """Create an activity with its schedules, terms and venues in one call."""
    return service.to_public(service.create_activity(session, body))


@router.get("/{activity_id}", responses=problem_responses(404, 422))
def get_activity(activity: ActivityDep) -> ActivityPublic:
    """One activity, archived or not."""
    return service.to_public(activity)


@router.patch("/{activity_id}", responses=problem_responses(404, 409, 422))
def update_activity(
    session: SessionDep, activity: ActivityDep, body: ActivityUpdate
) -> ActivityPublic:
    """Change the fields sent. `schedules`, `term_ids` and `venue_ids`, when sent, replace
    the whole list."""
    return service.to_public(service.update_activity(session, activity, body.changes()))


@router.post("/{activity_id}/archive", responses=problem_responses(404, 422))
def archive_activity(session: SessionDep, activity: ActivityDep) -> ActivityPublic:
    """Archive an activity. Nothing is deleted."""
    return service.to_public(service.archive_activity(session, activity))
