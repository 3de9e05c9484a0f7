"""Commissioners' reports: JSON or CSV, aggregated in SQL, with small numbers suppressed."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from app.accounts.deps import require_roles
from app.accounts.models import GlobalRole
from app.accounts.principal import Principal
from app.core.db import ReadSessionDep
from app.core.errors import problem_responses
from app.core.types import utcnow
from app.organisations import visibility
from app.reports import queries
from app.reports.common import (
    Period,
    ReportBody,
    ReportFormat,
    area_param,
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
AreaDep = Annotated[str | None, Depends(area_param)]
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
    once 5 or more were answered). Group by organisation and `funding` for the load each
    organisation carries by how the activity is paid for (commissioned, grant, unfunded)."""
    filters = queries.Filters(
        hidden=visibility.unpublished_hidden_from(reader),
        period=period,
        area=area,
        terms=vocabulary.resolve(session, need, ["need"], "query.need"),
        group_by=check_group_by(group_by, queries.REFERRAL_DIMENSIONS),
    )
    columns, rows, counts = queries.referrals(session, filters)
    return respond(
        fmt, "referrals", period, {"area": area, "need": need}, filters.group_by,
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
        area=area,
        terms=vocabulary.resolve(
            session, category, ["activity-category", "need"], "query.category"
        ),
        group_by=check_group_by(group_by, queries.CAPACITY_DIMENSIONS),
    )
    columns, rows, counts = queries.capacity_now(session, filters, utcnow())
    return respond(
        fmt, "capacity", period, {"area": area, "category": category}, filters.group_by,
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
        area=area,
        terms=vocabulary.resolve(
            session, category, ["activity-category", "need"], "query.category"
        ),
        group_by=check_group_by(group_by, ("area", "organisation")),
        interval=interval,
    )
    columns, rows, counts = queries.capacity_history(session, filters)
    return respond(
        fmt, "capacity-history", period,
        {"area": area, "category": category, "interval": interval},
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
        area=area,
        terms=vocabulary.resolve(session, need, ["need"], "query.need"),
        group_by=check_group_by(group_by, queries.DEMAND_DIMENSIONS),
        interval=interval,
    )
    columns, rows, counts = queries.unmet_demand(session, filters)
    return respond(
        fmt, "unmet-demand", period, {"area": area, "need": need, "interval": interval},
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
        area=area,
        group_by=check_group_by(group_by, queries.ASSURANCE_DIMENSIONS),
    )
    columns, rows, counts = queries.assurance(session, filters, utcnow())
    return respond(
        fmt, "assurance", period, {"area": area}, filters.group_by, columns, rows, counts,
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
        area=area,
        terms=vocabulary.resolve(session, category, ["support-category"], "query.category"),
        group_by=check_group_by(group_by, queries.SUPPORT_DIMENSIONS),
    )
    columns, rows, counts = queries.support_needs(session, filters)
    return respond(
        fmt, "support-needs", period, {"area": area, "category": category}, filters.group_by,
        columns, rows, counts, [SUPPRESSION, _multi(filters.group_by, {"area"})],
    )  # fmt: skip


def _multi(group_by, many: set[str]) -> str:
    if many & set(group_by):
        return (
            "Grouped by " + " or ".join(sorted(many & set(group_by))) + ": a row counts once in "
            "each it belongs to, so totals can exceed the number of distinct rows."
        )
    return "Each row counted once."
