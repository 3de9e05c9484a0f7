"""Activity cards: the read model listings and searches answer from (issue #14).

A card is everything a listing shows of an activity that does not change with the clock
(``ActivityCard``: the activity, its organisation, schedules, terms and venues), plus the
provider's contact block that search results show. It is built from the live tables by
``build`` whenever something it shows is written (``app.search.indexing.refresh``, which
every such write already calls) and stored as JSON in ``activity_card``.

A page is then one statement: the filtered, ordered, limited ids, joined to their cards,
their live capacity rows and their organisations' standing (``with_cards``). What depends
on the clock is worked out per request from what that statement returns: the effective
capacity, freshness, the standing where it has run out (``app.organisations.standing``).
``public_json`` is the one place an activity is put together for the API, from a card built
a moment ago (what a write answers) or one read back (what a read answers), so both are
the same by construction; ``tests/test_read_model.py`` checks the stored cards against the
live tables after every kind of write.
"""

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, select
from sqlalchemy.orm import selectinload
from sqlmodel import Session

from app.activities.freshness import freshness_json
from app.activities.models import Activity, Schedule
from app.activities.schemas import ActivityCard, ActivityPublic, SchedulePublic
from app.capacity import service as capacity
from app.capacity.models import ActivityCapacity
from app.closures import lookup as closures
from app.closures.models import Closure
from app.closures.schemas import ClosurePublic
from app.core.db import insert_or_replace
from app.core.validation import field_values
from app.organisations import standing as organisation_standing
from app.organisations.models import OrganisationStanding
from app.organisations.schemas import OrganisationSummary
from app.search.models import ActivityCardRecord
from app.search.schedule import uk_today
from app.search.schemas import OptionOrganisation
from app.venues.schemas import VenueSummary
from app.vocabulary import service as vocabulary
from app.vocabulary.models import TaxonomyTerm

# What building a card reads, loaded with the activities in a handful of queries.
LOAD = (
    selectinload(Activity.organisation),
    selectinload(Activity.schedules),
    selectinload(Activity.terms).selectinload(TaxonomyTerm.taxonomy),
    selectinload(Activity.venues),
    selectinload(Activity.capacity),
)
CAPACITY_PREFIX = "capacity_"
# The capacity columns beside each card, and the labels they are read back by.
_CAPACITY_LABELS = tuple(
    (column.key, f"{CAPACITY_PREFIX}{column.key}")
    for column in ActivityCapacity.__table__.c
    if column.key not in ("activity_id", "organisation_id", "version")
)


def build(activity: Activity, closures: Iterable[Closure]) -> dict[str, Any]:
    """The card of ``activity`` (loaded with ``LOAD``) with its ``closures`` not yet over
    (``closures.for_activities``), as stored: JSON-ready."""
    card = ActivityCard.model_validate(
        {
            **field_values(activity, ActivityCard),
            "organisation": OrganisationSummary.model_validate(activity.organisation),
            "schedules": [SchedulePublic.model_validate(s) for s in in_order(activity.schedules)],
            "terms": [
                vocabulary.summarise(t) for t in sorted(activity.terms, key=lambda t: t.name)
            ],
            "venues": [
                VenueSummary.model_validate(v)
                for v in sorted(activity.venues, key=lambda v: v.name)
            ],
            "closures": [ClosurePublic.model_validate(c) for c in closures],
        }
    ).model_dump(mode="json")
    # Only what search results need and ActivityPublic does not show: ignored by it.
    card["live_venue_ids"] = [str(v.id) for v in activity.venues if v.archived_at is None]
    card["provider"] = OptionOrganisation.model_validate(activity.organisation).model_dump(
        mode="json"
    )
    return card


def in_order(schedules: list[Schedule]) -> list[Schedule]:
    return sorted(schedules, key=lambda s: (s.freq, s.byday, s.opens_at, str(s.id)))


def store(session: Session, activity_ids: Iterable[uuid.UUID]) -> None:
    """Rebuild the cards of these activities from the live tables (in the caller's
    transaction); an activity that no longer exists loses its card with it."""
    ids = list(activity_ids)
    if not ids:
        return
    activities = list(
        session.execute(
            select(Activity)
            .where(Activity.id.in_(ids))
            .options(*LOAD)
            .execution_options(populate_existing=True)
        ).scalars()
    )
    closed = closures.for_activities(session, activities, uk_today())
    insert_or_replace(
        session,
        ActivityCardRecord.__table__,
        [
            {
                "activity_id": activity.id,
                "organisation_id": activity.organisation_id,
                "card": build(activity, closed[activity.id]),
            }
            for activity in activities
        ],
        ["activity_id"],
    )


# --- reading ------------------------------------------------------------------------------


def with_cards(
    page: Select,
    id_column: str,
    order: Callable[[Any], list[ColumnElement[Any]]],
    total: ScalarSelect[int] | None = None,
) -> Select:
    """``page`` (a filtered, ordered, limited select whose ``id_column`` is the activity id)
    joined to each row's card, live capacity and organisation standing, kept in page order
    (``order(columns)``: the ordering clauses on the page's columns), with ``total``
    (``capped_count``) beside each row as ``capped_total``."""
    inner = page.subquery("page")
    activity_id = inner.c[id_column]
    capacity_columns = [
        ActivityCapacity.__table__.c[key].label(label) for key, label in _CAPACITY_LABELS
    ]
    return (
        select(
            inner,
            ActivityCardRecord.card,
            ActivityCardRecord.organisation_id.label("card_organisation_id"),
            *capacity_columns,
            *organisation_standing.COLUMNS,
            *([total.label("capped_total")] if total is not None else []),
        )
        .join(ActivityCardRecord, ActivityCardRecord.activity_id == activity_id)
        .outerjoin(ActivityCapacity, ActivityCapacity.activity_id == activity_id)
        .outerjoin(
            OrganisationStanding,
            OrganisationStanding.organisation_id == ActivityCardRecord.organisation_id,
        )
        .order_by(*order(inner.c))
    )


def standings(
    session: Session, rows: Iterable[Mapping[str, Any]], now: datetime
) -> dict[uuid.UUID, organisation_standing.Standing]:
    """The standing of every organisation in ``rows`` (from ``with_cards``): as read, and
    computed live (one more round trip) only for those missing or run out."""
    found: dict[uuid.UUID, organisation_standing.Standing | None] = {}
    required = organisation_standing.required_now()
    for row in rows:
        if (organisation_id := row["card_organisation_id"]) not in found:
            found[organisation_id] = organisation_standing.stored(row, now, required)
    return organisation_standing.complete(session, found, found.keys(), now)


def capacity_of(row: Mapping[str, Any]) -> Any:
    """The capacity columns of a ``with_cards`` row, as the capacity rules read them."""
    return SimpleNamespace(**{key: row[label] for key, label in _CAPACITY_LABELS})


CARD_FIELDS = tuple(ActivityCard.model_fields)


def public_json(
    card: Mapping[str, Any],
    capacity_row: Any,
    standing: organisation_standing.Standing,
    now: datetime,
) -> dict[str, Any]:
    """The activity as the API shows it (an ``ActivityPublic``, as JSON): its card passed
    through as stored, completed with what depends on now."""
    last_confirmed = datetime.fromisoformat(card["last_confirmed_at"])
    today = uk_today(now).isoformat()
    return {
        **{name: card[name] for name in CARD_FIELDS},
        "closures": [c for c in card["closures"] if c["ends_on"] >= today],
        "capacity": capacity.summary_json(capacity_row, now),
        "freshness": freshness_json(last_confirmed, now),
        "assurance_level": str(standing.assurance_level),
        "responsiveness": standing.responsiveness_json,
    }


def public(
    card: Mapping[str, Any],
    capacity_row: Any,
    standing: organisation_standing.Standing,
    now: datetime,
) -> ActivityPublic:
    return ActivityPublic.model_validate(public_json(card, capacity_row, standing, now))


def public_rows(
    session: Session, rows: list[Mapping[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """The activities of ``with_cards`` rows as the API shows them, as JSON."""
    known = standings(session, rows, now)
    return [
        public_json(row["card"], capacity_of(row), known[row["card_organisation_id"]], now)
        for row in rows
    ]
