"""Commissioners' reports: JSON or CSV, aggregated in SQL, with small numbers suppressed."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import Field
from sqlmodel import SQLModel

from app.accounts.deps import require_roles
from app.accounts.models import GlobalRole
from app.accounts.principal import Principal
from app.areas import service as area_service
from app.areas.models import AreaKind
from app.areas.schemas import AreaSummary
from app.core.csv_writer import csv_rows
from app.core.db import ReadSessionDep
from app.core.errors import Forbidden, InvalidField, problem_responses
from app.core.types import utcnow
from app.organisations import visibility
from app.reports import profile, queries
from app.reports.common import (
    Period,
    ReportBody,
    ReportFormat,
    check_group_by,
    format_param,
    period_params,
    respond,
)
from app.vocabulary import service as vocabulary

router = APIRouter(prefix="/v1/reports", tags=["reports"])
ReaderDep = Annotated[
    Principal,
    Depends(require_roles(GlobalRole.commissioner, GlobalRole.steward, GlobalRole.admin)),
]

PeriodDep = Annotated[Period, Depends(period_params)]


@dataclass(frozen=True)
class AreaScope:
    asked: str | None  # the `area` parameter as sent, echoed in the report's filters
    area_ids: frozenset[uuid.UUID] | None
    visible_area_ids: frozenset[uuid.UUID] | None
    kind: AreaKind

    def filters(self) -> dict:
        return {"area_ids": self.area_ids, "visible_area_ids": self.visible_area_ids,
                "area_kind": self.kind}  # fmt: skip


def area_scope(
    session: ReadSessionDep,
    reader: ReaderDep,
    area: Annotated[
        str | None,
        Query(
            max_length=64,
            description="An area's id or official code (GET /v1/areas): only what lies in "
            "it: activities and referrals where the activity meets, searches where they "
            "were centred, organisations (assurance, support needs) by their areas",
        ),
    ] = None,
    area_kind: Annotated[
        AreaKind, Query(description="With group_by=area: the kind of area to group by")
    ] = AreaKind.local_authority,
) -> AreaScope:
    """The area a report covers: the one asked for (422 if no area has that id or code;
    403 if the reader is limited to other areas), else a limited reader's own areas."""
    limits = frozenset(reader.areas) or None
    if area and area.strip():
        found = area_service.resolve(session, area)
        if limits is not None and found.id not in limits:
            raise Forbidden("Your reports are limited to your own areas; this is not one of them")
        return AreaScope(area.strip(), frozenset({found.id}), limits, area_kind)
    return AreaScope(None, limits, limits, area_kind)


AreaDep = Annotated[AreaScope, Depends(area_scope)]
FormatDep = Annotated[ReportFormat, Depends(format_param)]
Interval = Literal["day", "week", "month"]
ACTIVITY_TERMS = ["activity-category", "need"]
RESPONSES = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The report as JSON, or as CSV with a header row",
    },
    **problem_responses(401, 403, 422),
}
SUPPRESSION = 'Counts of 1 to 4 show as "<5"; a total that could reveal one shows as "suppressed".'

NOW = "Figures as of now; the period does not apply to this report."


def _group_by(description: str):
    return Query(max_length=4, description=f"Repeatable: {description}")


@router.get("/referrals", responses=RESPONSES)
def referrals_report(
    session: ReadSessionDep,
    reader: ReaderDep,
    period: PeriodDep,
    area: AreaDep,
    fmt: FormatDep,
    need: Annotated[list[str], Query(max_length=20, description="Need ids or codes")] = [],  # noqa: B006
    group_by: Annotated[list[str], _group_by(", ".join(queries.REFERRAL_DIMENSIONS))] = [],  # noqa: B006
) -> ReportBody:
    """Referrals sent in the period: where each now stands (sent, accepted, declined by
    reason, waitlisted, expired, attended, did not attend, completed, withdrawn), how many
    were ever accepted, and the median and 90th-percentile hours to a first answer (shown
    once 5 or more were answered). Outcomes: `wellbeing_measured` referrals have ONS4
    answers at referral and later (completion, else a follow-up), and the
    `mean_…_change` columns give the mean change per question (for anxiety a fall is the
    improvement), shown once 5 or more were measured. Group by organisation and `funding`
    for the load each organisation carries by how the activity is paid for
    (commissioned, grant, unfunded)."""
    filters = queries.Filters(
        hidden=visibility.unpublished_hidden_from(reader),
        period=period,
        **area.filters(),
        terms=vocabulary.resolve(session, need, ["need"], "query.need"),
        group_by=check_group_by(group_by, queries.REFERRAL_DIMENSIONS),
    )
    columns, rows, counts = queries.referrals(session, filters)
    return respond(
        fmt, "referrals", period, {"area": area.asked, "need": need}, filters.group_by,
        columns, rows, counts, [SUPPRESSION, _multi(filters.group_by, {"area", "need"})],
    )  # fmt: skip


@router.get("/capacity", responses=RESPONSES)
def capacity_report(
    session: ReadSessionDep,
    reader: ReaderDep,
    period: PeriodDep,
    area: AreaDep,
    fmt: FormatDep,
    category: Annotated[
        list[str], Query(max_length=20, description="Activity category or need ids or codes")
    ] = [],  # noqa: B006
    group_by: Annotated[list[str], _group_by(", ".join(queries.CAPACITY_DIMENSIONS))] = [],  # noqa: B006
) -> ReportBody:
    """Capacity now, over listed activities: how many are active, open, on a waiting list,
    paused (by reason) or closed; places in all and free; people on waiting lists. For
    capacity over time, see /v1/reports/capacity-history."""
    filters = queries.Filters(
        hidden=visibility.unpublished_hidden_from(reader),
        period=period,
        **area.filters(),
        terms=vocabulary.resolve(
            session, category, ["activity-category", "need"], "query.category"
        ),
        group_by=check_group_by(group_by, queries.CAPACITY_DIMENSIONS),
    )
    columns, rows, counts = queries.capacity_now(session, filters, utcnow())
    return respond(
        fmt, "capacity", period, {"area": area.asked, "category": category}, filters.group_by,
        columns, rows, counts,
        [SUPPRESSION, NOW, _multi(filters.group_by, {"area", "category"})],
    )  # fmt: skip


@router.get("/capacity-history", responses=RESPONSES)
def capacity_history_report(
    session: ReadSessionDep,
    reader: ReaderDep,
    period: PeriodDep,
    area: AreaDep,
    fmt: FormatDep,
    interval: Interval = "week",
    category: Annotated[
        list[str], Query(max_length=20, description="Activity category or need ids or codes")
    ] = [],  # noqa: B006
    group_by: Annotated[list[str], _group_by("area, organisation")] = [],  # noqa: B006
) -> ReportBody:
    """Capacity over time from its history, per day, week or month: referrals received and
    waitlisted, places taken and given back, and activities paused."""
    filters = queries.Filters(
        hidden=visibility.unpublished_hidden_from(reader),
        period=period,
        **area.filters(),
        terms=vocabulary.resolve(
            session, category, ["activity-category", "need"], "query.category"
        ),
        group_by=check_group_by(group_by, ("area", "organisation")),
        interval=interval,
    )
    columns, rows, counts = queries.capacity_history(session, filters)
    return respond(
        fmt, "capacity-history", period,
        {"area": area.asked, "category": category, "interval": interval},
        ("period", *filters.group_by), columns, rows, counts, [SUPPRESSION],
    )  # fmt: skip


@router.get("/unmet-demand", responses=RESPONSES)
def unmet_demand_report(
    session: ReadSessionDep,
    reader: ReaderDep,
    period: PeriodDep,
    area: AreaDep,
    fmt: FormatDep,
    interval: Interval = "week",
    need: Annotated[list[str], Query(max_length=20, description="Need ids or codes")] = [],  # noqa: B006
    group_by: Annotated[list[str], _group_by(", ".join(queries.DEMAND_DIMENSIONS))] = [],  # noqa: B006
) -> ReportBody:
    """Referral searches that found nothing or fewer than 3 options, by need, outcode and
    period (`interval`), from the search log (which holds no personal data).
    `group_by=phrase` shows the words searches used that matched no vocabulary term
    (scrubbed of digits and anything postcode-, email- or phone-shaped), each only once at
    least 5 separate searches used it."""
    filters = queries.Filters(
        hidden=visibility.unpublished_hidden_from(reader),
        period=period,
        **area.filters(),
        terms=vocabulary.resolve(session, need, ["need"], "query.need"),
        group_by=check_group_by(group_by, queries.DEMAND_DIMENSIONS),
        interval=interval,
    )
    columns, rows, counts = queries.unmet_demand(session, filters)
    return respond(
        fmt, "unmet-demand", period, {"area": area.asked, "need": need, "interval": interval},
        filters.group_by, columns, rows, counts,
        [SUPPRESSION, _multi(filters.group_by, {"need", "phrase"})],
    )  # fmt: skip


@router.get("/assurance", responses=RESPONSES)
def assurance_report(
    session: ReadSessionDep,
    reader: ReaderDep,
    period: PeriodDep,
    area: AreaDep,
    fmt: FormatDep,
    group_by: Annotated[list[str], _group_by("area")] = [],  # noqa: B006
) -> ReportBody:
    """Assurance today over published organisations: how many are assured, expiring within
    30/60/90 days, have expired items, and how many required items are missing; the share
    of organisations and of their active activities assured."""
    filters = queries.Filters(
        hidden=visibility.unpublished_hidden_from(reader),
        period=period,
        **area.filters(),
        group_by=check_group_by(group_by, queries.ASSURANCE_DIMENSIONS),
    )
    columns, rows, counts = queries.assurance(session, filters, utcnow())
    return respond(
        fmt, "assurance", period, {"area": area.asked}, filters.group_by, columns, rows, counts,
        [SUPPRESSION, NOW, _multi(filters.group_by, {"area"})],
    )  # fmt: skip


@router.get("/support-needs", responses=RESPONSES)
def support_needs_report(
    session: ReadSessionDep,
    reader: ReaderDep,
    period: PeriodDep,
    area: AreaDep,
    fmt: FormatDep,
    category: Annotated[
        list[str], Query(max_length=14, description="Support category ids or codes")
    ] = [],  # noqa: B006
    group_by: Annotated[list[str], _group_by(", ".join(queries.SUPPORT_DIMENSIONS))] = [],  # noqa: B006
) -> ReportBody:
    """Support needs raised in the period: still open, resolved and closed, by urgency, and
    the median hours to acknowledge and to resolve."""
    filters = queries.Filters(
        hidden=visibility.unpublished_hidden_from(reader),
        period=period,
        **area.filters(),
        terms=vocabulary.resolve(session, category, ["support-category"], "query.category"),
        group_by=check_group_by(group_by, queries.SUPPORT_DIMENSIONS),
    )
    columns, rows, counts = queries.support_needs(session, filters)
    return respond(
        fmt, "support-needs", period, {"area": area.asked, "category": category}, filters.group_by,
        columns, rows, counts, [SUPPRESSION, _multi(filters.group_by, {"area"})],
    )  # fmt: skip


def _multi(group_by, many: set[str]) -> str:
    if many & set(group_by):
        return (
            "Grouped by " + " or ".join(sorted(many & set(group_by))) + ": a row counts once in "
            "each it belongs to, so totals can exceed the number of distinct rows."
        )
    return "Each row counted once."


class ProfileFormat(StrEnum):
    json = "json"
    csv = "csv"
    svg = "svg"


async def profile_format(
    format_: Annotated[
        ProfileFormat | None,
        Query(
            alias="format",
            description="json (default), csv (the by-need table) or svg (a chart of it); "
            "or send Accept: text/csv or image/svg+xml",
        ),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ProfileFormat:
    if format_ is not None:
        return format_
    for media, chosen in (("image/svg+xml", ProfileFormat.svg), ("text/csv", ProfileFormat.csv)):
        if accept and media in accept:
            return chosen
    return ProfileFormat.json


class AreaProfileBody(SQLModel):
    report: Literal["area-profile"] = "area-profile"
    area: AreaSummary
    period: dict[str, Any]
    generated_at: datetime
    by_need: list[dict[str, Any]] = Field(
        description="Per need: searches centred in the area (and those finding fewer than 3 "
        "or none), the listed activities there that help with it (tagged with the need or a "
        "category that helps), open ones, places free, waiting lists, and searches per open "
        "activity and per free place"
    )
    by_need_totals: dict[str, Any]
    unmatched_phrases: list[dict[str, Any]] = Field(
        description="What searches centred there asked for in words no term understood "
        "(scrubbed), the 10 most used, each used by 5 or more searches"
    )
    supply_by_category: list[dict[str, Any]] = Field(
        description="Listed activities in the area by category and capacity status, now"
    )
    supply: dict[str, Any] = Field(description="Listed activities in the area, now")
    referrals: dict[str, Any] = Field(
        description="Referrals in the period to activities meeting in the area"
    )
    support_needs: dict[str, Any] = Field(
        description="Support needs raised in the period by organisations of the area"
    )
    notes: list[str]


@router.get(
    "/area-profile",
    response_model=AreaProfileBody,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "image/svg+xml": {"schema": {"type": "string"}},
            },
            "description": "The profile as JSON, its by-need table as CSV, or a chart as SVG",
        },
        **problem_responses(401, 403, 422),
    },
)
def area_profile_report(
    session: ReadSessionDep,
    reader: ReaderDep,
    period: PeriodDep,
    area: AreaDep,
    fmt: Annotated[ProfileFormat, Depends(profile_format)],
) -> Any:
    """One area in one view: demand (searches centred there, by need; those finding too
    little), supply (activities there by capacity status, places free, waiting lists,
    paused for staff capacity), referral flow (sent, accepted, declined for no capacity,
    the unfunded load) and open support needs, with searches per open activity and per free
    place by need. `area` is required."""
    if area.asked is None:
        raise InvalidField("query.area", "name the area to profile: its id or code", "missing")
    found = area_service.resolve(session, area.asked)
    filters = queries.Filters(
        hidden=visibility.unpublished_hidden_from(reader), period=period, **area.filters()
    )
    body = profile.area_profile(session, filters, utcnow())
    if fmt is ProfileFormat.csv:
        return StreamingResponse(
            csv_rows(profile.NEED_COLUMNS, body["by_need"]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="area-profile.csv"'},
        )
    if fmt is ProfileFormat.svg:
        title = (
            f"{found.name}: searches and open activities by need, {period.start} to {period.end}"
        )
        return Response(profile.chart_svg(title, body["by_need"]), media_type="image/svg+xml")
    profile_body = AreaProfileBody(
        area=AreaSummary.model_validate(found),
        period={"from": period.start, "to": period.end},
        generated_at=utcnow(),
        notes=[SUPPRESSION, PROFILE_NOTE],
        **body,
    )
    return Response(profile_body.model_dump_json(), media_type="application/json")


PROFILE_NOTE = (
    "Searches count by where they were centred; activities, places and referrals by where "
    "the activity meets; support needs by the organisation's areas. Ratios show only where "
    "both figures are 5 or more."
)
