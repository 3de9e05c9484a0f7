import uuid
from typing import Annotated

import pydantic_core
from fastapi import APIRouter, Path, Query, Response, status

from app.accounts.deps import Authenticated, CurrentPrincipal
from app.activities import service, spreadsheet
from app.activities.deps import ActivityForUpdate, EditableActivity
from app.activities.models import Activity, ActivityStatus
from app.activities.schemas import ActivityCreate, ActivityPage, ActivityPublic, ActivityUpdate
from app.core.concurrency import set_etag
from app.core.csv_writer import CSV_RESPONSE, FormatDep, ReportFormat, csv_download
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import InvalidField, problem_responses
from app.core.inputs import Instant
from app.core.pagination import PageDep
from app.core.sorting import ListingSort
from app.idempotency.service import Idempotent, IdempotentRoute

router = APIRouter(route_class=IdempotentRoute, prefix="/v1/activities", tags=["activities"])


def _public(session: SessionDep, response: Response, activity: Activity) -> ActivityPublic:
    set_etag(response, activity.version)
    return service.public_one(session, activity)


@router.get(
    "",
    response_model=ActivityPage,
    responses={
        200: {"content": CSV_RESPONSE, "description": "A page as JSON, or every match as CSV"},
        **problem_responses(401, 422),
    },
)
def list_activities(
    session: StatementSessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    fmt: FormatDep,
    organisation: Annotated[uuid.UUID | None, Query(description="Run by this organisation")] = None,
    status_: Annotated[ActivityStatus | None, Query(alias="status")] = None,
    term: Annotated[
        list[uuid.UUID],
        Query(max_length=20, description="Tagged with any of these terms (repeatable)"),
    ] = [],  # noqa: B006 - FastAPI copies the default per request
    venue: Annotated[uuid.UUID | None, Query(description="Held at this venue")] = None,
    modified_after: Annotated[
        Instant | None, Query(description="Only those changed after this time (ISO 8601)")
    ] = None,
    include_archived: bool = False,
    sort: ListingSort = ListingSort.name,
    after: Annotated[
        str | None,
        Query(
            max_length=400,
            description="Continue after this cursor (the previous page's `next_after`) "
            "instead of counting pages; with the same filters and sort",
        ),
    ] = None,
) -> Response:
    """List the activities the caller may see, with schedules, terms and venues. Page by
    `page`, or by `after` (faster deep in a long list). As CSV (`format=csv` or
    `Accept: text/csv`): every match, one row per activity with its organisation, venues,
    schedule summary and terms; `signpost import-csv` reads the same columns back."""
    if after is not None and page.page != 1:
        raise InvalidField("query.after", "give page or after, not both", "conflict")
    filters = service.ActivityFilters(
        organisation_id=organisation,
        status=status_,
        term_ids=tuple(term),
        venue_id=venue,
        modified_after=modified_after,
        include_archived=include_archived,
        sort=sort,
        after=after,
    )
    if fmt is ReportFormat.csv:
        return csv_download(
            "activities.csv",
            spreadsheet.COLUMNS,
            lambda reader: spreadsheet.rows(service.every_activity(reader, principal, filters)),
        )
    return service.list_activities(session, principal, filters, page).response()


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    dependencies=[Idempotent],
)
def create_activity(
    session: SessionDep, principal: Authenticated, body: ActivityCreate, response: Response
) -> ActivityPublic:
    """Create an activity with its schedules, terms and venues in one call (the
    organisation's members, stewards and admins)."""
    activity = service.create_activity(session, principal, body)
    response.headers["Location"] = f"/v1/activities/{activity.id}"
    return _public(session, response, activity)


@router.get(
    "/{activity_id}", response_model=ActivityPublic, responses=problem_responses(401, 404, 422)
)
def get_activity(
    session: StatementSessionDep,
    principal: CurrentPrincipal,
    activity_id: Annotated[uuid.UUID, Path(description="The activity's id")],
) -> Response:
    """One activity. The `ETag` header is what `If-Match` needs to change it."""
    activity = service.get_public(session, principal, activity_id)
    answer = Response(pydantic_core.to_json(activity), media_type="application/json")
    set_etag(answer, activity["version"])
    return answer


@router.patch("/{activity_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
def update_activity(
    session: SessionDep, activity: ActivityForUpdate, body: ActivityUpdate, response: Response
) -> ActivityPublic:
    """Change the fields sent (send `If-Match` with the ETag you read). `schedules`,
    `term_ids` and `venue_ids`, when sent, replace the whole list."""
    return _public(session, response, service.update_activity(session, activity, body.changes()))


@router.post("/{activity_id}/confirm", responses=problem_responses(401, 403, 404, 409, 422))
def confirm_activity(
    session: SessionDep, activity: EditableActivity, response: Response
) -> ActivityPublic:
    """Confirm the listing is still accurate, unchanged (the organisation's members,
    stewards and admins): `last_confirmed_at` becomes now and it is fresh again."""
    return _public(session, response, service.confirm_activity(session, activity))


@router.post("/{activity_id}/archive", responses=problem_responses(401, 403, 404, 422))
def archive_activity(
    session: SessionDep, activity: EditableActivity, response: Response
) -> ActivityPublic:
    """Archive an activity. Nothing is deleted."""
    return _public(session, response, service.archive_activity(session, activity))
