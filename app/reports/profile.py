"""One view of one area: demand against supply by need, capacity, referral flow and open
support needs, for a commissioner deciding what to fund.

Every figure reads "in the area" as every other report does (``app.areas.placement``):
searches by where they were centred, activities and referrals by where the activity meets,
support needs by the organisation's areas. Counts of 1 to 4 are suppressed as everywhere.
"""

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select, union
from sqlmodel import Session

from app.activities.models import Activity, ActivityStatus, ActivityTerm
from app.areas import placement
from app.capacity.models import ActivityCapacity, CapacityStatus
from app.capacity.rules import effective_sql
from app.reports import queries
from app.reports.common import suppress
from app.reports.side_by_side import side_by_side
from app.search.models import SearchDemandDay
from app.vocabulary.models import NeedCategory, Taxonomy, TaxonomyTerm

NEED_COLUMNS = [
    "need",
    "searches",
    "fewer_than_3",
    "no_results",
    "activities",
    "open_activities",
    "places_available",
    "waiting_list_length",
    "searches_per_open_activity",
    "searches_per_place_available",
]
NEED_COUNTS = NEED_COLUMNS[1:8]
CATEGORY_COUNTS = ("activities", "open", "waitlist", "paused", "closed", "places_available")
PHRASES = 10  # the phrases most used (each by 5 or more searches: PHRASE_MIN_SEARCHES)


def category_codes(session: Session) -> set[str]:
    """The activity categories' codes (grouping by category also lists need tags)."""
    return set(
        session.scalars(
            select(TaxonomyTerm.code)
            .join(Taxonomy, Taxonomy.id == TaxonomyTerm.taxonomy_id)
            .where(Taxonomy.code == "activity-category")
        ).all()
    )


def _supply_by_need(session: Session, filters: queries.Filters, now: datetime) -> dict[str, dict]:
    """Per need: the listed activities in the area that help with it (tagged with the need
    or with a category that helps with it), each counted once, with their capacity."""
    needs = (
        select(TaxonomyTerm.id)
        .join(Taxonomy, Taxonomy.id == TaxonomyTerm.taxonomy_id)
        .where(Taxonomy.code == "need")
    )
    helps = union(
        select(TaxonomyTerm.id.label("need_id"), TaxonomyTerm.id.label("term_id")).where(
            TaxonomyTerm.id.in_(needs)
        ),
        select(NeedCategory.need_id, NeedCategory.category_id.label("term_id")),
    ).subquery("helps")
    matched = select(helps.c.need_id, ActivityTerm.activity_id).join(
        ActivityTerm, ActivityTerm.term_id == helps.c.term_id
    )
    if filters.area_ids is not None:  # the area's activities first: a few thousand, not all
        matched = matched.where(
            ActivityTerm.activity_id.in_(
                placement.subjects_in(placement.activity_areas(), filters.area_ids)
            )
        )
    matched = matched.distinct().subquery("matched")
    base = queries._listed_activities().join(matched, matched.c.activity_id == Activity.id)
    base = base.where(*queries._not_hidden(Activity.organisation_id, filters))
    status = effective_sql(ActivityCapacity, now)
    active = Activity.status == ActivityStatus.active.value
    statement = (
        base.with_only_columns(
            TaxonomyTerm.code.label("need"),
            func.count(distinct(Activity.id)).label("activities"),
            func.count(distinct(Activity.id))
            .filter(active & (status == CapacityStatus.open.value))
            .label("open_activities"),
            func.coalesce(func.sum(ActivityCapacity.available), 0).label("places_available"),
            func.coalesce(func.sum(ActivityCapacity.waiting_list_length), 0).label(
                "waiting_list_length"
            ),
        )
        .join(TaxonomyTerm, TaxonomyTerm.id == matched.c.need_id)
        .group_by(TaxonomyTerm.code)
    )
    return {row.need: dict(row._mapping) for row in session.execute(statement)}


def _demand_by_need(session: Session, filters: queries.Filters) -> dict[str, dict]:
    """Per need: the searches centred in the area in the period, from the daily counts
    (``SearchDemandDay``, written with the log) rather than the log itself."""
    statement = select(
        SearchDemandDay.need_id,
        func.sum(SearchDemandDay.searches).label("searches"),
        func.sum(SearchDemandDay.fewer_than_3).label("fewer_than_3"),
        func.sum(SearchDemandDay.no_results).label("no_results"),
    ).where(
        SearchDemandDay.day >= filters.period.start,
        SearchDemandDay.day <= filters.period.end,
    )
    if filters.area_ids is not None:
        # The keys as values, not a subquery: the planner then sees how few rows they pick
        # and reads them by the (place, day) index.
        keys = placement.keys_of_areas(session, filters.area_ids)
        statement = statement.where(SearchDemandDay.place.in_(keys))
    rows = session.execute(statement.group_by(SearchDemandDay.need_id)).all()
    codes = {str(i): c for i, c in session.execute(select(TaxonomyTerm.id, TaxonomyTerm.code))}
    return {
        codes.get(row.need_id, row.need_id): {
            "searches": int(row.searches),
            "fewer_than_3": int(row.fewer_than_3),
            "no_results": int(row.no_results),
        }
        for row in rows
    }


def _ratio(part: Any, whole: Any) -> float | None:
    """``part / whole`` to 1 decimal place, when neither is under 5 (a ratio beside a
    shown count must not give away a suppressed one)."""
    if not isinstance(part, int) or not isinstance(whole, int) or part < 5 or whole < 5:
        return None
    return round(part / whole, 1)


def _demand_and_supply_by_need(session: Session, filters: queries.Filters, now: datetime):
    """Searches and supply by need, and the unmatched phrases: one half of the profile."""
    queries.plan_for(session, filters)
    demand_by_need = _demand_by_need(session, filters)
    supply = _supply_by_need(session, filters, now)
    _, phrase_rows, _ = queries.unmet_demand(
        session, replace(filters, group_by=("phrase",), terms=())
    )
    return demand_by_need, supply, phrase_rows


def _capacity_referrals_support(session: Session, filters: queries.Filters, now: datetime):
    """Capacity now (in all and by category), referral flow and support needs: the other."""
    everything = replace(filters, group_by=(), terms=())
    return (
        queries.capacity_now(session, everything, now),
        queries.capacity_now(session, replace(everything, group_by=("category",)), now),
        category_codes(session),
        queries.referrals(session, replace(everything, group_by=("funding",))),
        queries.support_needs(session, everything),
    )


def area_profile(session: Session, filters: queries.Filters, now: datetime) -> dict[str, Any]:
    (demand_by_need, supply, phrase_rows), rest = side_by_side(
        session,
        lambda own: _demand_and_supply_by_need(own, filters, now),
        lambda own: _capacity_referrals_support(own, filters, now),
    )
    capacity_now, by_category_now, categories, referral_report, support_report = rest
    by_need = []
    for need in sorted(set(demand_by_need) | set(supply)):
        demand = demand_by_need.get(need, {})
        offered = supply.get(need, {})
        by_need.append(
            {
                "need": need,
                "searches": demand.get("searches", 0),
                "fewer_than_3": demand.get("fewer_than_3", 0),
                "no_results": demand.get("no_results", 0),
                "activities": offered.get("activities", 0),
                "open_activities": offered.get("open_activities", 0),
                "places_available": int(offered.get("places_available", 0)),
                "waiting_list_length": int(offered.get("waiting_list_length", 0)),
            }
        )
    for row in by_need:  # ratios from the true counts, shown only where neither is small
        row["searches_per_open_activity"] = _ratio(row["searches"], row["open_activities"])
        row["searches_per_place_available"] = _ratio(row["searches"], row["places_available"])
    shown, totals = suppress(by_need, NEED_COUNTS)

    _, capacity_rows, capacity_counts = capacity_now
    _, category_rows, _ = by_category_now
    by_category, _ = suppress(
        [
            {k: row[k] for k in ("category", *CATEGORY_COUNTS)}
            for row in category_rows
            if row["category"] in categories
        ],
        CATEGORY_COUNTS,
    )
    phrases = sorted(phrase_rows, key=lambda r: (-r["searches"], r["phrase"]))[:PHRASES]
    _, referral_rows, referral_counts = referral_report
    _, support_rows, support_counts = support_report
    capacity, _ = suppress(capacity_rows, capacity_counts)
    referrals, referral_totals = suppress(referral_rows, referral_counts)
    support, _ = suppress(support_rows, support_counts)
    now_capacity = capacity[0] if capacity else {}
    return {
        "by_need": shown,
        "by_need_totals": totals,
        "unmatched_phrases": [{"phrase": r["phrase"], "searches": r["searches"]} for r in phrases],
        "supply_by_category": by_category,
        "supply": {
            key: now_capacity.get(key, 0)
            for key in (
                "activities",
                "active",
                "open",
                "waitlist",
                "paused",
                "paused_staff_capacity",
                "closed",
                "places_available",
                "places_maximum",
                "waiting_list_length",
            )
        },
        "referrals": {
            "sent": referral_totals.get("referrals", 0),
            "accepted": referral_totals.get("ever_accepted", 0),
            "declined_no_capacity": referral_totals.get("declined_no_capacity", 0),
            "by_funding": [
                {"funding": r["funding"], "referrals": r["referrals"]} for r in referrals
            ],
            "unfunded": next((r["referrals"] for r in referrals if r["funding"] == "unfunded"), 0),
        },
        "support_needs": {
            "raised": support[0]["raised"] if support else 0,
            "still_open": support[0]["still_open"] if support else 0,
        },
    }


def chart_svg(title: str, by_need: list[dict[str, Any]]) -> bytes:
    """Demand against supply by need, as an SVG bar chart (suppressed counts drawn as 0
    and labelled "<5")."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    needs = [row["need"] for row in by_need] or ["(none)"]

    def values(name: str) -> list[int]:
        return [row[name] if isinstance(row[name], int) else 0 for row in by_need] or [0]

    figure = Figure(figsize=(9, max(3, 0.45 * len(needs) + 1.5)))
    axes = figure.subplots()
    positions = range(len(needs))
    height = 0.38
    searches = axes.barh(
        [p - height / 2 for p in positions], values("searches"), height, label="Searches"
    )
    open_ones = axes.barh(
        [p + height / 2 for p in positions],
        values("open_activities"),
        height,
        label="Open activities",
    )
    for bars, name in ((searches, "searches"), (open_ones, "open_activities")):
        labels = [str(row[name]) for row in by_need] or ["0"]
        axes.bar_label(bars, labels=labels, padding=2, fontsize=8)
    axes.set_yticks(list(positions), needs)
    axes.invert_yaxis()
    axes.set_xlabel("Count in the period (searches) and now (activities)")
    axes.set_title(title)
    axes.legend(loc="lower right")
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue().encode()
