"""The five reports, each aggregated in SQL: grouped counts, plus nearest-rank percentiles
(PostgreSQL's percentile_disc; on SQLite, which has none, the same definition over the
grouped values).

Grouping by area, need or category counts a row once in each area, need or category it
belongs to, so those totals can exceed the number of referrals, activities or needs; each
report says so in its notes.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Select,
    String,
    case,
    cast,
    distinct,
    exists,
    func,
    select,
    text,
    true,
    type_coerce,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.activities.models import Activity, ActivityStatus, ActivityTerm
from app.areas import placement
from app.areas.models import Area, AreaKind
from app.assurance import rules as assurance_rules
from app.assurance.models import AssuranceItem, ReviewStatus
from app.capacity.models import (
    ActivityCapacity,
    CapacityChange,
    CapacityChangeCause,
    CapacityStatus,
    PauseReason,
)
from app.capacity.rules import effective_sql
from app.organisations.models import Organisation, OrganisationStatus
from app.referrals.models import (
    ONS4_QUESTIONS,
    DeclineReason,
    Referral,
    ReferralNeed,
    ReferralStatus,
)
from app.reports.common import Period, hours_between, nearest_rank
from app.search import sql as search_sql
from app.search.models import HAS_PHRASES, SearchLog
from app.support.models import NeedStatus, SupportNeed, Urgency
from app.vocabulary.models import TaxonomyTerm


@dataclass(frozen=True)
class Filters:
    period: Period
    # Organisations the reader may not see (drafts, for commissioners): left out entirely.
    hidden: Select | None = None
    # Only what lies in any of these areas (the `area` asked for, else a scoped reader's
    # areas); None: everywhere.
    area_ids: frozenset[uuid.UUID] | None = None
    # The areas a scoped reader may see rows of when grouping by area; None: all.
    visible_area_ids: frozenset[uuid.UUID] | None = None
    area_kind: AreaKind = AreaKind.local_authority
    terms: tuple[uuid.UUID, ...] = ()
    group_by: tuple[str, ...] = ()
    interval: str = "week"


LOCAL_RANDOM_PAGE_COST = "1.1"


def plan_for(session: Session, filters: Filters) -> None:
    """On PostgreSQL, for a report on some areas, tell the planner (for this transaction
    only) that reads by index are cheap: it then reads the areas' venues, activities and
    referrals by index rather than scanning the country's (the area profile: 0.65 s to
    0.43 s). A national report keeps the server's setting, under which scans are rightly
    preferred (capacity history for England: 2.3 s, against 5.2 s with the cheap reads)."""
    if filters.area_ids is not None and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL random_page_cost = {LOCAL_RANDOM_PAGE_COST}"))


def _count_if(condition):
    return func.count().filter(condition)


def _within(column, period: Period):
    return column >= period.starts_at, column < period.ends_before


@dataclass(frozen=True)
class Placed:
    """How a report's rows lie in areas: ``pairs`` (a select of subject and area id, from
    ``app.areas.placement``) and the row's column that is the subject."""

    pairs: Select
    subject: Any


def _area_filter(statement, organisation_column, filters: Filters, placed: Placed):
    """Only rows lying in the filter's areas; never a hidden organisation's."""
    if filters.area_ids is not None:
        statement = statement.where(
            placed.subject.in_(placement.subjects_in(placed.pairs, filters.area_ids))
        )
    return statement.where(*_not_hidden(organisation_column, filters))


def _not_hidden(organisation_column, filters: Filters) -> list[ColumnElement[bool]]:
    """Never a hidden organisation's rows: an anti-join (NOT EXISTS over the hidden ids as
    a derived table), which the planner reads by key, where NOT IN over a subquery made
    it misjudge every join after it (the area profile: 0.46 s to 0.97 s)."""
    if filters.hidden is None:
        return []
    hidden = filters.hidden.subquery("hidden")
    return [~exists().where(hidden.c.id == organisation_column)]


def _area_group(statement, filters: Filters, dims: list, placed: Placed):
    """Group by the areas of ``filters.area_kind`` each row lies in (a row counts once in
    each), limited to a scoped reader's areas."""
    pairs = placed.pairs.subquery("placed")
    statement = statement.join(pairs, pairs.c.subject == placed.subject).join(
        Area, (Area.id == pairs.c.area_id) & (Area.kind == filters.area_kind.value)
    )
    if filters.visible_area_ids is not None:
        statement = statement.where(Area.id.in_(list(filters.visible_area_ids)))
    dims += [("area_id", Area.id), ("area", Area.name), ("area_code", Area.code)]
    return statement


def _by_activity(column) -> Placed:
    return Placed(placement.activity_areas(), column)


def _by_organisation(column) -> Placed:
    return Placed(placement.organisation_areas(), column)


def _or_unknown(column):
    """An optional enum column as text, "unknown" where it is not set."""
    return func.coalesce(type_coerce(column, String), "unknown")


def _bucket(column, interval: str, dialect: str):
    """The start of the day, week (Monday) or month ``column`` falls in, as a date."""
    if dialect == "postgresql":
        return cast(func.date_trunc(interval, column), Date)
    if interval == "day":
        return func.date(column)
    if interval == "week":
        return func.date(column, "weekday 0", "-6 days")
    return func.date(column, "start of month")


@dataclass(frozen=True)
class Spread:
    """A nearest-rank percentile of ``value`` over the group's rows where ``condition``."""

    name: str
    fraction: float
    value: Any
    condition: Any


def _rows(session, statement, dims, metrics, spreads: Sequence[Spread] = (), having=None):
    """One grouped query for the counts (and, on PostgreSQL, the percentiles with them);
    on SQLite the percentiles come from the grouped values afterwards."""
    postgres = session.get_bind().dialect.name == "postgresql"
    names = [name for name, _ in dims]
    keys = [column.label(name) for name, column in dims]
    columns = [column.label(name) for name, column in metrics]
    if postgres:
        columns += [
            func.percentile_disc(s.fraction).within_group(s.value).filter(s.condition).label(s.name)
            for s in spreads
        ]
    # Core execution (no ORM loading) and plain dicts: national reports have many rows.
    grouped = statement.with_only_columns(*keys, *columns).group_by(*keys).order_by(*keys)
    if having is not None:
        grouped = grouped.having(having)
    result = session.connection().execute(grouped)
    fields = list(result.keys())
    rows = [dict(zip(fields, row, strict=True)) for row in result]
    if not postgres:
        for spread in spreads:
            grouped: dict[tuple, list[float]] = defaultdict(list)
            values = statement.where(spread.condition).with_only_columns(*keys, spread.value)
            for row in session.execute(values):
                grouped[tuple(row[: len(keys)])].append(float(row[len(keys)]))
            for row in rows:
                found = sorted(grouped.get(tuple(row[n] for n in names), []))
                row[spread.name] = nearest_rank(found, spread.fraction)
    for row in rows:
        for spread in spreads:
            if row.get(spread.name) is not None:
                row[spread.name] = round(float(row[spread.name]), 1)
    return rows, names


# --- referrals ----------------------------------------------------------------------------

REFERRAL_DIMENSIONS = ("organisation", "activity", "area", "need", "funding")


def referrals(session: Session, filters: Filters) -> tuple[list[str], list[dict], list[str]]:
    plan_for(session, filters)
    dialect = session.get_bind().dialect.name
    base = (
        select(Referral.id)
        .select_from(Referral)
        .where(
            *_within(Referral.created_at, filters.period),
        )
    )
    placed = _by_activity(Referral.activity_id)  # where the activity takes place
    base = _area_filter(base, Referral.organisation_id, filters, placed)
    if filters.terms:
        base = base.where(
            Referral.id.in_(
                select(ReferralNeed.referral_id).where(ReferralNeed.term_id.in_(filters.terms))
            )
        )
    dims: list[tuple[str, Any]] = []
    for dimension in filters.group_by:
        if dimension == "organisation":
            base = base.join(Organisation, Organisation.id == Referral.organisation_id)
            dims += [("organisation_id", Organisation.id), ("organisation", Organisation.name)]
        elif dimension == "activity":
            base = base.join(Activity, Activity.id == Referral.activity_id)
            dims += [("activity_id", Activity.id), ("activity", Activity.name)]
        elif dimension == "funding":
            funding = aliased(Activity)
            base = base.join(funding, funding.id == Referral.activity_id)
            dims.append(("funding", _or_unknown(funding.funding_source)))
        elif dimension == "area":
            base = _area_group(base, filters, dims, placed)
        elif dimension == "need":
            # Grouped by the term's id (a cheaper sort than its code); codes follow.
            base = base.join(ReferralNeed, ReferralNeed.referral_id == Referral.id)
            if filters.terms:
                base = base.where(ReferralNeed.term_id.in_(filters.terms))
            dims.append(("need", ReferralNeed.term_id))
    metrics: list[tuple[str, Any]] = [("referrals", func.count())]
    metrics += [
        (status.value, _count_if(Referral.status == status.value)) for status in ReferralStatus
    ]
    metrics += [
        (f"declined_{reason.value}", _count_if(Referral.decline_reason == reason.value))
        for reason in DeclineReason
    ]
    metrics.append(("ever_accepted", _count_if(Referral.accepted_at.is_not(None))))
    metrics.append(("answered", _count_if(Referral.first_response_at.is_not(None))))
    wellbeing_metrics = _wellbeing_metrics()
    metrics += wellbeing_metrics
    hours = hours_between(Referral.created_at, Referral.first_response_at, dialect)
    answered = Referral.first_response_at.is_not(None)
    spreads = [
        Spread("median_hours_to_first_response", 0.5, hours, answered),
        Spread("p90_hours_to_first_response", 0.9, hours, answered),
    ]
    rows, names = _rows(session, base, dims, metrics, spreads)
    if "need" in names:
        codes = dict(session.execute(select(TaxonomyTerm.id, TaxonomyTerm.code)).all())
        for row in rows:
            row["need"] = codes[row["need"]]
        rows.sort(key=lambda row: tuple(str(row[name]) for name in names))
    means = [name for name, _ in wellbeing_metrics if name.startswith("mean_")]
    for row in rows:
        if row["answered"] < 5:  # fewer answers could describe one person's referral
            for spread in spreads:
                row[spread.name] = None
        for name in means:  # the same rule for outcomes: never one person's answers
            value = row[name]
            row[name] = round(float(value), 2) if row["wellbeing_measured"] >= 5 else None
    counts = [name for name, _ in metrics if name not in means]
    columns = names + counts + ["median_hours_to_first_response", "p90_hours_to_first_response"]
    return columns + means, rows, counts


def _wellbeing_metrics() -> list[tuple[str, Any]]:
    """The outcome metrics: how many referrals have ONS4 answers at the start and later,
    and the mean change per question (kept on each referral, so no join)."""
    measured = Referral.life_satisfaction_change.is_not(None)
    metrics: list[tuple[str, Any]] = [("wellbeing_measured", _count_if(measured))]
    for question in ONS4_QUESTIONS:
        change = cast(getattr(Referral, f"{question}_change"), Float)
        metrics.append((f"mean_{question}_change", func.avg(change)))
    return metrics


# --- support needs ------------------------------------------------------------------------

SUPPORT_DIMENSIONS = ("category", "urgency", "area", "status")


def support_needs(session: Session, filters: Filters):
    plan_for(session, filters)
    dialect = session.get_bind().dialect.name
    category = aliased(TaxonomyTerm)
    base = (
        select(SupportNeed.id)
        .select_from(SupportNeed)
        .where(
            *_within(SupportNeed.created_at, filters.period),
        )
    )
    placed = _by_organisation(SupportNeed.organisation_id)  # the organisation's areas
    base = _area_filter(base, SupportNeed.organisation_id, filters, placed)
    if filters.terms:
        base = base.where(SupportNeed.category_id.in_(filters.terms))
    dims: list[tuple[str, Any]] = []
    for dimension in filters.group_by:
        if dimension == "category":
            base = base.join(category, category.id == SupportNeed.category_id)
            dims.append(("category", category.code))
        elif dimension == "urgency":
            dims.append(("urgency", SupportNeed.urgency))
        elif dimension == "status":
            dims.append(("status", SupportNeed.status))
        elif dimension == "area":
            base = _area_group(base, filters, dims, placed)
    unfinished = SupportNeed.status.in_(
        [NeedStatus.open.value, NeedStatus.acknowledged.value, NeedStatus.in_progress.value]
    )
    metrics = [
        ("raised", func.count()),
        ("still_open", _count_if(unfinished)),
        ("resolved", _count_if(SupportNeed.status == NeedStatus.resolved.value)),
        ("closed", _count_if(SupportNeed.status == NeedStatus.closed.value)),
        *((f"urgency_{u.value}", _count_if(SupportNeed.urgency == u.value)) for u in Urgency),
    ]
    spreads = [
        Spread(
            "median_hours_to_acknowledge",
            0.5,
            hours_between(SupportNeed.created_at, SupportNeed.acknowledged_at, dialect),
            SupportNeed.acknowledged_at.is_not(None),
        ),
        Spread(
            "median_hours_to_resolve",
            0.5,
            hours_between(SupportNeed.created_at, SupportNeed.resolved_at, dialect),
            SupportNeed.resolved_at.is_not(None),
        ),
    ]
    rows, names = _rows(session, base, dims, metrics, spreads)
    counts = [name for name, _ in metrics]
    return names + counts + ["median_hours_to_acknowledge", "median_hours_to_resolve"], rows, counts


# --- unmet demand -------------------------------------------------------------------------

DEMAND_DIMENSIONS = ("need", "phrase", "area", "outcode", "period")
# A phrase is free text someone typed: it is shown only once this many separate searches
# used it (in its row), so no one search's words can be picked out.
PHRASE_MIN_SEARCHES = 5


def _json_items(column, dialect: str):
    if dialect == "postgresql":
        return func.jsonb_array_elements_text(column).table_valued("value")
    return func.json_each(column).table_valued("value")


def unmet_demand(session: Session, filters: Filters):
    plan_for(session, filters)
    dialect = session.get_bind().dialect.name
    base = (
        select(SearchLog.id)
        .select_from(SearchLog)
        .where(
            *_within(SearchLog.searched_at, filters.period),
        )
    )
    placed = Placed(placement.search_areas(), SearchLog.id)  # where the search was centred
    if filters.area_ids is not None:
        base = base.where(placement.search_in(placement.keys_of_areas(session, filters.area_ids)))
    wanted = [str(t) for t in filters.terms]
    need = None
    if "need" in filters.group_by:  # one row per (search, need) it asked about
        need = _json_items(SearchLog.need_ids, dialect)
        base = base.join(need, true())
        if wanted:
            base = base.where(need.c.value.in_(wanted))
    elif wanted:  # each search once, if it asked about any of the needs
        base = base.where(search_sql.json_has_any(SearchLog.need_ids, wanted, dialect))
    phrase = None
    if "phrase" in filters.group_by:  # one row per (search, unmatched phrase)
        phrase = _json_items(SearchLog.unmatched, dialect).alias("phrase")
        # Only searches with phrases can give a row: say so, and their indexes are used.
        base = base.join(phrase, true()).where(text(f"search_log.{HAS_PHRASES}"))
    dims: list[tuple[str, Any]] = []
    for dimension in filters.group_by:
        if dimension == "need":
            dims.append(("need", need.c.value))
        elif dimension == "phrase":
            dims.append(("phrase", phrase.c.value))
        elif dimension == "outcode":
            dims.append(("outcode", func.coalesce(SearchLog.outcode, "unknown")))
        elif dimension == "area":
            base = _area_group(base, filters, dims, placed)
        elif dimension == "period":
            dims.append(("period", _bucket(SearchLog.searched_at, filters.interval, dialect)))
    metrics = [
        ("searches", func.count()),
        ("no_results", _count_if(SearchLog.result_count == 0)),
        ("fewer_than_3", _count_if(SearchLog.result_count < 3)),
    ]
    having = func.count() >= PHRASE_MIN_SEARCHES if phrase is not None else None
    rows, names = _rows(session, base, dims, metrics, having=having)
    if "need" in names:  # the log keeps term ids as text; show their codes
        codes = {
            str(term_id): code
            for term_id, code in session.execute(select(TaxonomyTerm.id, TaxonomyTerm.code))
        }
        for row in rows:
            row["need"] = codes.get(row["need"], row["need"])
    counts = [name for name, _ in metrics]
    return names + counts, rows, counts


# --- capacity -----------------------------------------------------------------------------

CAPACITY_DIMENSIONS = ("area", "category", "organisation", "funding")
HISTORY_DIMENSIONS = ("area", "organisation", "period")


def _listed_activities():
    return (
        select(Activity.id)
        .select_from(Activity)
        .join(Organisation, Organisation.id == Activity.organisation_id)
        .outerjoin(ActivityCapacity, ActivityCapacity.activity_id == Activity.id)
        .where(
            Activity.archived_at.is_(None),
            Organisation.archived_at.is_(None),
            Organisation.status == OrganisationStatus.published.value,
        )
    )


def capacity_now(session: Session, filters: Filters, now: datetime):
    plan_for(session, filters)
    base = _listed_activities()
    placed = _by_activity(Activity.id)
    base = _area_filter(base, Activity.organisation_id, filters, placed)
    if filters.terms:
        base = base.where(
            Activity.id.in_(
                select(ActivityTerm.activity_id).where(ActivityTerm.term_id.in_(filters.terms))
            )
        )
    dims: list[tuple[str, Any]] = []
    category = aliased(TaxonomyTerm)
    for dimension in filters.group_by:
        if dimension == "organisation":
            dims += [("organisation_id", Organisation.id), ("organisation", Organisation.name)]
        elif dimension == "funding":
            dims.append(("funding", _or_unknown(Activity.funding_source)))
        elif dimension == "area":
            base = _area_group(base, filters, dims, placed)
        elif dimension == "category":
            tags = aliased(ActivityTerm)
            base = base.join(tags, tags.activity_id == Activity.id).join(
                category, category.id == tags.term_id
            )
            if filters.terms:
                base = base.where(tags.term_id.in_(filters.terms))
            dims.append(("category", category.code))
    status = effective_sql(ActivityCapacity, now)
    active = Activity.status == ActivityStatus.active.value
    metrics = [
        ("activities", func.count()),
        ("active", _count_if(active)),
        ("open", _count_if(active & (status == CapacityStatus.open.value))),
        ("waitlist", _count_if(active & (status == CapacityStatus.waitlist.value))),
        ("paused", _count_if(active & (status == CapacityStatus.paused.value))),
        ("closed", _count_if(active & (status == CapacityStatus.closed.value))),
        *(
            (
                f"paused_{reason.value}",
                _count_if(
                    active
                    & (status == CapacityStatus.paused.value)
                    & (ActivityCapacity.pause_reason == reason.value)
                ),
            )
            for reason in PauseReason
        ),
        ("waiting_list_length", func.coalesce(func.sum(ActivityCapacity.waiting_list_length), 0)),
    ]
    figures = [
        ("places_maximum", func.coalesce(func.sum(ActivityCapacity.maximum), 0)),
        ("places_available", func.coalesce(func.sum(ActivityCapacity.available), 0)),
    ]
    rows, names = _rows(session, base, dims, metrics + figures)
    counts = [name for name, _ in metrics]
    return names + counts + [name for name, _ in figures], rows, counts


def capacity_history(session: Session, filters: Filters):
    """Capacity changes per day, week or month from the history: referrals received and
    waitlisted, places taken and given back, and how many activities were paused."""
    plan_for(session, filters)
    dialect = session.get_bind().dialect.name
    base = (
        select(CapacityChange.id)
        .select_from(CapacityChange)
        .where(
            *_within(CapacityChange.recorded_at, filters.period),
        )
    )
    placed = _by_activity(CapacityChange.activity_id)
    base = _area_filter(base, CapacityChange.organisation_id, filters, placed)
    if filters.terms:
        base = base.where(
            CapacityChange.activity_id.in_(
                select(ActivityTerm.activity_id).where(ActivityTerm.term_id.in_(filters.terms))
            )
        )
    dims: list[tuple[str, Any]] = [
        ("period", _bucket(CapacityChange.recorded_at, filters.interval, dialect))
    ]
    for dimension in filters.group_by:
        if dimension == "organisation":
            base = base.join(Organisation, Organisation.id == CapacityChange.organisation_id)
            dims += [("organisation_id", Organisation.id), ("organisation", Organisation.name)]
        elif dimension == "area":
            base = _area_group(base, filters, dims, placed)
    cause = CapacityChange.cause
    metrics = [
        ("referrals_received", _count_if(cause == CapacityChangeCause.referral_received.value)),
        ("referrals_waitlisted", _count_if(cause == CapacityChangeCause.waitlisted.value)),
        ("places_taken", _count_if(cause == CapacityChangeCause.place_taken.value)),
        ("places_released", _count_if(cause == CapacityChangeCause.place_released.value)),
        (
            "activities_paused",
            func.count(distinct(CapacityChange.activity_id)).filter(
                CapacityChange.status == CapacityStatus.paused.value
            ),
        ),
    ]
    rows, names = _rows(session, base, dims, metrics)
    counts = [name for name, _ in metrics]
    return names + counts, rows, counts


# --- assurance ----------------------------------------------------------------------------

ASSURANCE_DIMENSIONS = ("area",)


def assurance(session: Session, filters: Filters, now: datetime):
    plan_for(session, filters)
    today = now.date()
    required = [kind.value for kind in assurance_rules.required_kinds()]
    item = AssuranceItem
    is_required = item.kind.in_(required)
    counts_as_present = is_required & ~(
        item.kind.in_([k.value for k in assurance_rules.POLICY_KINDS])
        & (item.has_policy.is_(False))
    )
    verified = counts_as_present & (item.review_status == ReviewStatus.verified.value)
    lapse = func.coalesce(item.lapses_on, assurance_rules.NEVER)
    per_org = (
        select(
            item.organisation_id.label("organisation_id"),
            func.count(distinct(case((verified, item.kind)))).label("verified_kinds"),
            func.count(distinct(case((counts_as_present, item.kind)))).label("present_kinds"),
            func.min(case((verified, lapse))).label("earliest"),
            func.max(case((is_required & (item.lapses_on < today), 1), else_=0)).label(
                "any_expired"
            ),
        )
        .group_by(item.organisation_id)
        .subquery("per_org")
    )
    assured = (per_org.c.verified_kinds == len(required)) & (per_org.c.earliest >= today)
    activities = (
        select(Activity.organisation_id, func.count().label("activities"))
        .where(Activity.archived_at.is_(None), Activity.status == ActivityStatus.active.value)
        .group_by(Activity.organisation_id)
        .subquery("activities")
    )
    base = (
        select(Organisation.id)
        .select_from(Organisation)
        .outerjoin(per_org, per_org.c.organisation_id == Organisation.id)
        .outerjoin(activities, activities.c.organisation_id == Organisation.id)
        .where(
            Organisation.archived_at.is_(None),
            Organisation.status == OrganisationStatus.published.value,
        )
    )
    placed = _by_organisation(Organisation.id)
    base = _area_filter(base, Organisation.id, filters, placed)
    dims: list[tuple[str, Any]] = []
    if "area" in filters.group_by:
        base = _area_group(base, filters, dims, placed)
    metrics = [
        ("organisations", func.count()),
        ("assured", _count_if(assured)),
        *(
            (
                f"expiring_within_{days}_days",
                _count_if(assured & (per_org.c.earliest <= today + timedelta(days=days))),
            )
            for days in (30, 60, 90)
        ),
        ("with_expired_items", _count_if(per_org.c.any_expired == 1)),
        (
            "missing_items",
            func.sum(len(required) - func.coalesce(per_org.c.present_kinds, 0)),
        ),
        ("activities", func.coalesce(func.sum(activities.c.activities), 0)),
        (
            "activities_assured",
            func.coalesce(func.sum(case((assured, activities.c.activities), else_=0)), 0),
        ),
    ]
    rows, names = _rows(session, base, dims, metrics)
    for row in rows:
        for share, part, whole in (
            ("share_assured", "assured", "organisations"),
            ("share_activities_assured", "activities_assured", "activities"),
        ):
            small = any(0 < (row[n] or 0) < 5 for n in (part, whole))
            row[share] = None if small or not row[whole] else round(row[part] / row[whole], 3)
    counts = [name for name, _ in metrics]
    return names + counts + ["share_assured", "share_activities_assured"], rows, counts


def unmatched_phrases(session: Session, period, limit: int = 100) -> list[dict]:
    """The phrases searches used that matched no vocabulary term, most used first, each
    only once ``PHRASE_MIN_SEARCHES`` separate searches used it."""
    dialect = session.get_bind().dialect.name
    phrase = _json_items(SearchLog.unmatched, dialect).alias("phrase")
    searches = func.count().label("searches")
    statement = (
        select(
            phrase.c.value.label("phrase"),
            searches,
            _count_if(SearchLog.result_count == 0).label("no_results"),
            func.max(SearchLog.searched_at).label("last_searched_at"),
        )
        .select_from(SearchLog)
        .join(phrase, true())
        .where(*_within(SearchLog.searched_at, period))
        .group_by(phrase.c.value)
        .having(func.count() >= PHRASE_MIN_SEARCHES)
        .order_by(searches.desc(), phrase.c.value)
        .limit(limit)
    )
    return [dict(row._mapping) for row in session.execute(statement)]
