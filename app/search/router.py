import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.background import BackgroundTask
from starlette.responses import Response

from app.accounts.deps import CurrentPrincipal, require_roles
from app.accounts.models import GlobalRole
from app.activities import service as activities
from app.activities.models import DeliveryMode
from app.core.db import StatementReaderDep, StatementSessionDep
from app.core.errors import InvalidField, problem_responses
from app.core.inputs import ClockTime
from app.core.pagination import PageDep
from app.referrals import summary
from app.search import search_log, service
from app.search.schemas import ReferralOptionPage
from app.venues.models import AccessibilityFeature

router = APIRouter(prefix="/v1", tags=["referral options"])

MAX_RADIUS_KM = 100


class Weekday(StrEnum):
    MO = "MO"
    TU = "TU"
    WE = "WE"
    TH = "TH"
    FR = "FR"
    SA = "SA"
    SU = "SU"


Many = Query(max_length=20)


@router.get(
    "/referral-options",
    response_model=ReferralOptionPage,
    responses=problem_responses(401, 403, 422),
    dependencies=[
        Depends(require_roles(GlobalRole.link_worker, GlobalRole.steward, GlobalRole.admin))
    ],
    description=(service.__doc__ or "").split("\n\n", 1)[1],
)
def find_referral_options(
    reader: StatementReaderDep,
    page: PageDep,
    need: Annotated[
        list[Annotated[str, Query(min_length=1, max_length=100)]],
        Query(
            max_length=10,
            description='Need term ids or words, e.g. "lonely" or "low mood" (repeatable; any)',
        ),
    ] = [],  # noqa: B006 - FastAPI copies list defaults per request
    category: Annotated[
        list[Annotated[str, Query(min_length=1, max_length=100)]],
        Query(max_length=10, description="Activity category ids or codes (repeatable; any)"),
    ] = [],  # noqa: B006
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Words in names and descriptions"),
    ] = None,
    postcode: Annotated[
        str | None, Query(max_length=10, description='Full postcode or outcode: "BS5 6AW", "BS5"')
    ] = None,
    lat: Annotated[float | None, Query(ge=49, le=61, description="Latitude (UK)")] = None,
    lon: Annotated[float | None, Query(ge=-9, le=3, description="Longitude (UK)")] = None,
    radius_km: Annotated[float, Query(gt=0, le=MAX_RADIUS_KM)] = 10,
    age: Annotated[int | None, Query(ge=0, le=120)] = None,
    day: Annotated[list[Weekday], Query(max_length=7, description="Meets on any of these")] = [],  # noqa: B006
    available_from: Annotated[
        ClockTime | None, Query(description="Sessions starting at or after")
    ] = None,
    available_to: Annotated[ClockTime | None, Query(description="Sessions ending by")] = None,
    delivery: Annotated[list[DeliveryMode], Query(max_length=4)] = [],  # noqa: B006
    cost: service.CostFilter | None = None,
    accessibility: Annotated[
        list[AccessibilityFeature], Query(max_length=10, description="A venue with all of these")
    ] = [],  # noqa: B006
    language: Annotated[
        list[Annotated[str, Query(pattern=r"^[a-z]{2,3}$")]], Query(max_length=10)
    ] = [],  # noqa: B006
    accepting_referrals: Annotated[
        bool,
        Query(
            description="Only activities that take referrals and whose capacity is open or "
            "on a waiting list"
        ),
    ] = False,
    assured_only: Annotated[
        bool,
        Query(description="Only organisations whose assurance is verified and current today"),
    ] = False,
    include_online: Annotated[
        bool, Query(description="With a location, also list activities that have no venue")
    ] = False,
    include_remote: Annotated[
        bool,
        Query(
            description="With a location, also offer phone, online and home-visit services "
            "(no venue) whose organisation declares an area holding the place searched; "
            "false leaves them out"
        ),
    ] = True,
    sort: service.SearchSort = service.SearchSort.relevance,
) -> Response:
    """What near this person helps with what they need, that they can get to, are eligible
    for and is on when they are free: ranked, with distance, next session and why it matched."""
    if available_from and available_to and available_from >= available_to:
        raise InvalidField("query.available_from", "must be before available_to")
    request = service.SearchRequest(
        needs=need,
        categories=category,
        q=q,
        postcode=postcode,
        latitude=lat,
        longitude=lon,
        radius_km=radius_km,
        age=age,
        days=[str(d) for d in day],
        available_from=available_from,
        available_to=available_to,
        delivery=delivery,
        cost=cost,
        accessibility=accessibility,
        languages=language,
        accepting_referrals=accepting_referrals,
        assured_only=assured_only,
        include_online=include_online,
        include_remote=include_remote,
        sort=sort,
    )
    found, log = service.search(reader, request, page)
    answer = found.response()
    answer.background = BackgroundTask(search_log.add, log)  # after the answer has gone
    return answer


@router.get(
    "/referral-options/{activity_id}/summary",
    responses={**summary.RESPONSES, **problem_responses(401, 403, 404, 422)},
    dependencies=[
        Depends(require_roles(GlobalRole.link_worker, GlobalRole.steward, GlobalRole.admin))
    ],
)
def referral_option_summary(
    session: StatementSessionDep,
    principal: CurrentPrincipal,
    activity_id: Annotated[uuid.UUID, Path(description="The activity's id")],
    fmt: Annotated[summary.SummaryFormat, Depends(summary.summary_format)],
) -> Response:
    """A take-away summary of one option, before any referral: what, where, when next, how
    to get there, who to contact, accessibility and cost, in plain words (text, HTML, PDF
    or SMS)."""
    activity = activities.get_visible_activity(session, principal, activity_id)
    return summary.respond(summary.build(session, activity.id), fmt)
