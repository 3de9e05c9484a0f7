"""What every report shares: its parameters, small-number suppression, and the two ways
out (JSON and streamed CSV)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response, StreamingResponse
from pydantic import Field
from sqlalchemy import Float, cast, func
from sqlmodel import SQLModel

from app.core.csv_writer import ReportFormat, csv_rows, format_param  # noqa: F401 - re-exported
from app.core.errors import InvalidField
from app.core.inputs import Day
from app.core.types import utcnow

MAX_PERIOD_DAYS = 731  # two years
SUPPRESSED = "<5"
WITHHELD = "suppressed"


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def ends_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)


async def period_params(
    from_: Annotated[
        Day | None, Query(alias="from", description="First day (default: 90 days ago)")
    ] = None,
    to: Annotated[Day | None, Query(description="Last day, inclusive (default: today)")] = None,
) -> Period:
    end = to or utcnow().date()
    start = from_ or end - timedelta(days=89)
    if end < start:
        raise InvalidField("query.to", "must not be before from", "before_start")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidField(
            "query.from", f"the period is at most {MAX_PERIOD_DAYS} days", "period_too_long"
        )
    return Period(start, end)


def area_param(
    area: Annotated[
        str | None,
        Query(
            max_length=100,
            description="An area organisations serve (e.g. Bristol, BS5); for searches an "
            "outcode (BS5) or postcode area (BS)",
        ),
    ] = None,
) -> str | None:
    return area.strip().upper() if area and area.strip() else None


def check_group_by(values: list[str], allowed: Sequence[str]) -> tuple[str, ...]:
    for value in values:
        if value not in allowed:
            raise InvalidField(
                "query.group_by",
                f"cannot group by {value!r}; choose from {', '.join(allowed)}",
                "unknown_grouping",
            )
    return tuple(dict.fromkeys(values))


# --- suppression --------------------------------------------------------------------------


def suppress(rows: list[dict[str, Any]], counts: Sequence[str]) -> tuple[list[dict], dict]:
    """Counts of 1 to 4 become "<5" (in place). Totals are summed from the true counts,
    then: a total of 1 to 4 is "<5", and a total whose column has exactly one suppressed
    cell is withheld ("suppressed"), so no cell can be worked out by subtraction."""
    sums = dict.fromkeys(counts, 0)
    hidden = dict.fromkeys(counts, 0)
    for row in rows:
        for name in counts:
            value = row.get(name)
            if value:
                sums[name] += value
                if value < 5:
                    hidden[name] += 1
                    row[name] = SUPPRESSED
    totals: dict[str, Any] = {}
    for name in counts:
        if 0 < sums[name] < 5:
            totals[name] = SUPPRESSED
        elif hidden[name] == 1:
            totals[name] = WITHHELD
        else:
            totals[name] = sums[name]
    return rows, totals


# --- output -------------------------------------------------------------------------------


class ReportBody(SQLModel):
    report: str
    period: dict[str, date]
    filters: dict[str, Any]
    group_by: list[str]
    generated_at: datetime
    columns: list[str] = Field(description="Row fields, in CSV column order")
    rows: list[dict[str, Any]] = Field(
        description='Counts are integers, or "<5" for 1 to 4; other figures are numbers'
    )
    totals: dict[str, Any] = Field(
        description='Totals of the count columns; "suppressed" where one could reveal a small count'
    )
    notes: list[str] = Field(default_factory=list)


def respond(
    fmt: ReportFormat,
    name: str,
    period: Period,
    filters: dict[str, Any],
    group_by: Sequence[str],
    columns: list[str],
    rows: list[dict[str, Any]],
    counts: Sequence[str],
    notes: list[str] | None = None,
):
    shown, totals = suppress(rows, counts)
    if fmt is ReportFormat.csv:
        filename = f"{name}-{period.start}-{period.end}.csv"
        return StreamingResponse(
            csv_rows(columns, shown),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    # Built without re-validation and serialised by pydantic-core: a national report can
    # have tens of thousands of rows.
    body = ReportBody.model_construct(
        report=name,
        period={"from": period.start, "to": period.end},
        filters={k: v for k, v in filters.items() if v not in (None, (), [])},
        group_by=list(group_by),
        generated_at=utcnow(),
        columns=columns,
        rows=shown,
        totals=totals,
        notes=notes or [],
    )
    return Response(body.model_dump_json(), media_type="application/json")


def hours_between(start, end, dialect: str):
    """Hours from ``start`` to ``end`` as a SQL expression."""
    if dialect == "postgresql":  # extract() gives numeric: sort as double precision
        return cast(func.extract("epoch", end - start), Float) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


def nearest_rank(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of a sorted list."""
    if not values:
        return None
    rank = max(1, -(-len(values) * int(fraction * 100) // 100))
    return round(values[rank - 1], 1)
