"""The link workers' search: filters in SQL, ranking in SQL, then one page dressed with
what a link worker needs to decide (distance, nearest venue, next session, why it matched).

Ranking (the default ``sort=relevance``), each part between 0 and 1:

    score = 0.40 * relevance + 0.30 * proximity + 0.15 * accepting + 0.15 * freshness

- relevance: 1 when the activity is tagged with a requested need or category, 0.8 when it
  only carries a category linked to a requested need; 1 when no need or category is asked.
- proximity: 1 - distance / radius; 0.5 for activities without a venue or with no location.
- accepting: 1 when the activity takes referrals and its capacity is open, 0.5 when it
  takes them onto a waiting list, else 0 (paused, closed, full and refusing, or no
  referrals at all).
- freshness: 1 if confirmed within 90 days, 0.6 within 180, 0.3 within 365, else 0; each
  result says how fresh it is (`freshness.status`), and listings unconfirmed for longer than
  SIGNPOST_HIDE_AFTER_DAYS (548) are left out altogether.
Ties go by name, then id, so pages are stable.

`need`, `category` and `q` are read as people write them: ids, codes, names, synonyms and
everyday phrasings ("no friends", "needs to get active"), with typos corrected against the
vocabulary (and, for `q`, the words of every listing). Words in `q` that name a need or
category also find what that need or category finds. The page says what it did:
`corrections`, `understood`, and `suggestions` when words matched nothing.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import (
    Float,
    Select,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
)
from sqlmodel import Session

from app.activities import cards
from app.activities.freshness import freshness
from app.activities.models import (
    Activity,
    ActivityVenue,
    DeliveryMode,
    Schedule,
)
from app.areas.models import AreaKey, OrganisationServedArea
from app.capacity.models import ActivityCapacity, CapacityStatus
from app.capacity.rules import ACCEPTING, effective_sql
from app.capacity.service import summarise as summarise_capacity
from app.core.config import get_settings
from app.core.db import get_engine
from app.core.errors import InvalidField
from app.core.pagination import JsonPage, PageParams, make_page
from app.core.types import utcnow
from app.geo.service import (
    Location,
    bounding_box,
    distance_km,
    nearest_outcode,
    resolve_postcode,
)
from app.search import lexicon, sql
from app.search.indexing import delivery_mask, weekday_mask
from app.search.models import ActivityFacet, ActivityPlace, SearchLog
from app.search.schedule import CardSchedule, Closed, next_session, notices
from app.search.schemas import (
    Correction,
    Matched,
    NextSession,
    OptionActivity,
    OptionOrganisation,
    ReferralOptionPage,
    SearchLocation,
    Suggestion,
    UnderstoodWords,
)
from app.search.words import normalise, scrub
from app.venues.models import AccessibilityFeature, Venue
from app.vocabulary.matching import (
    NEED_SCHEMES,
    STOPWORDS,
    Understood,
    nearest,
    nearest_possible,
    suggest,
    understand,
    vocabulary_words,
)
from app.vocabulary.snapshot import Snapshot, snapshot

logger = structlog.get_logger("signpost.search")

WEIGHTS = {"relevance": 0.40, "proximity": 0.30, "accepting": 0.15, "freshness": 0.15}
FEW_RESULTS = 3
NEXT_SESSION_SORT_LIMIT = 2000
ORGANISATION_FIELDS = tuple(
    OptionOrganisation.model_fields
)  # candidates ranked by next session; the rest by score


class SearchSort(StrEnum):
    relevance = "relevance"
    distance = "distance"
    next_session = "next_session"
    name = "name"


class CostFilter(StrEnum):
    free = "free"
    low_cost = "low_cost"


@dataclass(frozen=True)
class SearchRequest:
    needs: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    q: str | None = None
    postcode: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float = 10
    age: int | None = None
    days: list[str] = field(default_factory=list)
    available_from: time | None = None
    available_to: time | None = None
    delivery: list[DeliveryMode] = field(default_factory=list)
    cost: CostFilter | None = None
    accessibility: list[AccessibilityFeature] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    accepting_referrals: bool = False
    assured_only: bool = False
    include_online: bool = False
    include_remote: bool = True
    sort: SearchSort = SearchSort.relevance


@dataclass
class _TermSet:
    needs: dict[uuid.UUID, str] = field(default_factory=dict)  # need id -> name
    categories: dict[uuid.UUID, str] = field(default_factory=dict)  # with their children
    via_needs: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)  # cat -> needs

    @property
    def wanted(self) -> set[uuid.UUID]:
        return set(self.needs) | set(self.categories) | set(self.via_needs)

    @property
    def direct(self) -> set[uuid.UUID]:
        return set(self.needs) | set(self.categories)

    def add(self, vocabulary: Snapshot, term_ids: set[uuid.UUID]) -> None:
        """Needs and categories with their narrower terms ("mental health" takes in low
        mood and anxiety), and for needs the categories linked to them."""
        for term_id in term_ids:
            for found in {term_id} | vocabulary.children.get(term_id, set()):
                if vocabulary.scheme_of[found] != "need":
                    self.categories[found] = vocabulary.names[found]
                    continue
                self.needs[found] = vocabulary.names[found]
                for category_id in vocabulary.categories_of_need.get(found, ()):
                    self.via_needs.setdefault(category_id, set()).add(found)


@dataclass
class _Terms:
    """The request understood: the needs and categories asked for, those that words in
    ``q`` named, the text words left, and what was corrected or not understood."""

    asked: _TermSet = field(default_factory=_TermSet)
    from_q: _TermSet = field(default_factory=_TermSet)
    q_words: list[str] = field(default_factory=list)  # all of q's words, corrected
    unknown: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # scrubbed, for the search log
    corrections: list[Correction] = field(default_factory=list)
    understood: list[UnderstoodWords] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)


@dataclass
class Plan:
    """A request understood: where, which terms, which words, and the filtered query."""

    location: Location | None
    terms: _Terms
    statement: Any = None
    distance: Any = None
    score: Any = None


def plan(session: Session, request: SearchRequest, now: datetime) -> Plan:
    dialect = session.get_bind().dialect.name
    location = _locate(session, request)
    terms = _resolve_terms(session, request)
    if terms.unknown:
        return Plan(location, terms)
    statement, distance, score = _query(request, location, terms, dialect, now)
    return Plan(location, terms, statement, distance, score)


def _order(sort: SearchSort, distance, score, name, activity_id) -> list:
    tie = [name, activity_id]
    if sort is SearchSort.distance and distance is not None:
        return [distance.is_(None), distance, *tie]
    if sort is SearchSort.name:
        return tie
    return [score.desc(), *tie]


def page_statement(planned: Plan, sort: SearchSort, params: PageParams, ids=None):
    """The page's one statement, in ``sort`` order (all but next_session, which is ordered
    in Python and passes the page's ``ids``): the filtered, ranked page with the count of
    all matches, and each row's card, capacity and standing."""
    facet = ActivityFacet
    located = planned.distance is not None
    if ids is not None:  # the total: counted by the query that found the candidates
        page = planned.statement.where(facet.activity_id.in_(ids))
        return cards.with_cards(page, "activity_id", lambda _: [])
    page = (
        planned.statement.order_by(
            *_order(sort, planned.distance, planned.score, facet.name, facet.activity_id)
        )
        .offset(params.offset)
        .limit(params.per_page)
    )

    def in_order(c):  # the same order, on the page's own columns
        return _order(sort, c.distance_km if located else None, c.score, c.name, c.activity_id)

    return cards.with_cards(page, "activity_id", in_order)


def search(
    session: Session, request: SearchRequest, params: PageParams, now: datetime | None = None
) -> tuple[JsonPage, SearchLog]:
    """Read with ``session`` (a replica's, perhaps). Returns the page and the search-log row
    for it, which the caller writes (``write_log``) once the answer has gone."""
    now = now or utcnow()
    planned = plan(session, request, now)
    location, terms = planned.location, planned.terms

    if terms.unknown:
        page = _page_of(terms, make_page([], 0, params))
        page.hints = [
            f"No need or category matches {word!r}; see `suggestions`, try other words or "
            "browse /v1/taxonomy-terms?taxonomy=need"
            for word in terms.unknown
        ]
        page.location = _location_out(location, request)
        return JsonPage(page, []), _log(request, location, terms, 0)

    rows, total = _page_rows(session, request, planned, params, now)
    contents = _dress(session, request, rows, location, terms, now)
    envelope = make_page([], total, params)
    page = _page_of(
        terms, envelope.model_copy(update={"size": len(contents), "empty": not contents})
    )
    if total == 0 and request.q and not terms.from_q.wanted:
        page.suggestions += _suggestions(snapshot(session), request.q)
    page.location = _location_out(location, request)
    if location and location.note:
        page.hints.append(location.note)
    if total < FEW_RESULTS:
        page.hints.append(
            "Few options match: try a larger radius_km, include_online=true or fewer filters"
        )
    return JsonPage(page, contents), _log(request, location, terms, total)


def _page_of(terms: _Terms, envelope) -> ReferralOptionPage:
    page = ReferralOptionPage(**dict(envelope))
    page.corrections = terms.corrections
    page.understood = terms.understood
    page.suggestions = terms.suggestions
    return page


# --- understanding the request ------------------------------------------------------------


def _locate(session: Session, request: SearchRequest) -> Location | None:
    if request.postcode and (request.latitude is not None or request.longitude is not None):
        raise InvalidField("query.postcode", "give a postcode or lat/lon, not both")
    if request.postcode:
        return resolve_postcode(session, request.postcode)
    if (request.latitude is None) != (request.longitude is None):
        raise InvalidField(
            "query.lon" if request.longitude is None else "query.lat", "lat and lon go together"
        )
    if request.latitude is not None:
        return Location(
            request.latitude,
            request.longitude,
            nearest_outcode(request.latitude, request.longitude),
            "coordinates",
        )
    return None


CATEGORY_SCHEMES = ("activity-category", "need")
MAX_Q_WORDS = 10


def _resolve_terms(session: Session, request: SearchRequest) -> _Terms:
    """Needs and categories by id, code, name or synonym, forgiving typos and everyday
    phrasing (``app.vocabulary.matching``); a need that only names a category counts as
    that category, and the other way round. Then the words of ``q``."""
    vocabulary = snapshot(session)
    terms = _Terms()
    for values, schemes in ((request.needs, NEED_SCHEMES), (request.categories, CATEGORY_SCHEMES)):
        for value in values:
            found = Understood()
            for scheme in schemes:  # the parameter's own scheme first
                found = understand(vocabulary, (scheme,), value)
                if found.ids:
                    break
            if not found.ids:
                terms.unknown.append(value)
                terms.suggestions += _suggestions(vocabulary, value)
                if scrubbed := scrub(value):
                    terms.unmatched.append(scrubbed)
                continue
            terms.asked.add(vocabulary, found.ids)
            _note(terms, vocabulary, found, "need" if schemes[0] == "need" else "category")
    if request.q:
        _read_q(session, vocabulary, request.q, terms)
    return terms


def _read_q(session: Session, vocabulary: Snapshot, q: str, terms: _Terms) -> None:
    """Words in ``q`` that name needs or categories count as them too ("panic attacks" is
    what need=anxiety finds). A word in neither the vocabulary nor any listing is a typo:
    corrected to name a term where it can, else to the nearest word of any listing."""
    words = [w for w in normalise(q).split() if any(ch.isalpha() for ch in w)][:MAX_Q_WORDS]
    vocabulary_known = vocabulary_words(vocabulary, NEED_SCHEMES)
    maybe = {w for w in words if w not in vocabulary_known and nearest_possible(w)}
    listed = lexicon.listed(session, maybe)
    found = understand(vocabulary, NEED_SCHEMES, " ".join(words), keep=listed)
    reading = list(found.words)
    unread = [i for i, w in enumerate(words) if w in maybe - listed and reading[i] == w]
    if unread:
        choices = lexicon.with_vocabulary(session, vocabulary_known)
        for index in unread:
            reading[index] = nearest(choices, words[index]) or words[index]
    terms.corrections += [
        Correction(typed=typed, read_as=read_as, parameter="q")
        for typed, read_as in zip(words, reading, strict=True)
        if typed != read_as
    ]
    terms.from_q.add(vocabulary, found.ids)
    _note(terms, vocabulary, found, "q", corrections=False)
    terms.q_words = [w for w in reading if w not in STOPWORDS]
    if not found.ids and (scrubbed := scrub(q)):
        terms.unmatched.append(scrubbed)


def _note(terms: _Terms, vocabulary: Snapshot, found: Understood, parameter: str, corrections=True):
    if corrections:
        terms.corrections += [
            Correction(typed=typed, read_as=read_as, parameter=parameter)
            for typed, read_as in found.corrections
        ]
    for words, ids in found.spans:
        for term_id in sorted(ids, key=lambda t: vocabulary.names[t]):
            terms.understood.append(
                UnderstoodWords(
                    words=words,
                    parameter=parameter,
                    taxonomy=vocabulary.scheme_of[term_id],
                    code=vocabulary.codes[term_id],
                    name=vocabulary.names[term_id],
                )
            )


def _suggestions(vocabulary: Snapshot, value: str) -> list[Suggestion]:
    return [
        Suggestion(
            instead_of=value,
            taxonomy=vocabulary.scheme_of[term_id],
            code=vocabulary.codes[term_id],
            name=vocabulary.names[term_id],
        )
        for term_id in suggest(vocabulary, NEED_SCHEMES, value)
    ]


# --- the query ----------------------------------------------------------------------------


ACCEPTING_VALUES = [status.value for status in ACCEPTING]


def _query(request, location, terms, dialect, now):
    """The filtered, scored candidates, read from the narrow ``activity_facet`` table."""
    facet = ActivityFacet
    where = [facet.listed.is_(True)]
    distance = None
    joins = []
    if location:
        lat_min, lat_max, lon_min, lon_max = bounding_box(
            location.latitude, location.longitude, request.radius_km
        )
        place = ActivityPlace
        exact = sql.haversine_km(
            place.latitude, place.longitude, location.latitude, location.longitude
        )
        place_where = [
            place.latitude.between(lat_min, lat_max),
            place.longitude.between(lon_min, lon_max),
        ]
        if request.accessibility:
            place_where.append(
                sql.json_has_all(place.accessibility, request.accessibility, dialect)
            )
        nearby = (
            select(place.activity_id, func.min(exact).label("distance_km"))
            .where(*place_where)
            .group_by(place.activity_id)
            .having(func.min(exact) <= request.radius_km)
        )
        offers_remote = request.include_remote and not request.include_online
        if offers_remote and not request.accessibility:
            # Phone, online and home-visit services (no venue) whose organisation serves
            # this place join the candidates, with no distance.
            nearby = nearby.union_all(_serving_remotely(location))
        nearby = nearby.subquery("nearby")
        distance = nearby.c.distance_km
        joins.append(nearby)
        if request.include_online and not request.accessibility:
            has_venue = exists().where(ActivityVenue.activity_id == facet.activity_id)
            where.append(or_(nearby.c.activity_id.is_not(None), ~has_venue))
        else:
            where.append(nearby.c.activity_id.is_not(None))
    elif request.accessibility:
        accessible = (
            select(ActivityVenue.activity_id)
            .join(Venue, Venue.id == ActivityVenue.venue_id)
            .where(
                Venue.archived_at.is_(None),
                sql.json_has_all(Venue.accessibility, request.accessibility, dialect),
            )
        )
        where.append(facet.activity_id.in_(accessible))

    # Terms are checked on the facet row itself (GIN-indexed on PostgreSQL). A located
    # search has a few hundred candidates: each is checked for its words through its key;
    # a national one collects the text index's matches first.
    few = location is not None and not request.include_online
    if terms.asked.wanted:
        where.append(_tagged(terms.asked.wanted, dialect))
    if terms.from_q.wanted:
        # q's words as text, or the terms they named; the other words ("since her husband
        # died") only rank: those that match every word come first
        named = _tagged(terms.from_q.wanted, dialect)
        if terms.q_words:
            named = or_(sql.text_match(facet.activity_id, terms.q_words, dialect, few), named)
        where.append(named)
    elif terms.q_words:
        where.append(sql.text_match(facet.activity_id, terms.q_words, dialect, few))
    if request.age is not None:
        where += [
            or_(facet.minimum_age.is_(None), facet.minimum_age <= request.age),
            or_(facet.maximum_age.is_(None), facet.maximum_age >= request.age),
        ]
    if request.days:
        where.append(facet.weekdays.op("&")(weekday_mask(request.days)) != 0)
    if request.available_from or request.available_to:
        where.append(exists(select(1).where(*_schedule_conditions(request, now))))
    if request.delivery:
        where.append(facet.delivery.op("&")(delivery_mask(request.delivery)) != 0)
    if request.cost is CostFilter.free:
        where.append(facet.cost_class == 0)
    elif request.cost is CostFilter.low_cost:
        where.append(facet.cost_class <= 2)
    if request.languages:
        speaking = select(Activity.id).where(
            sql.json_has_any(Activity.languages, request.languages, dialect)
        )
        where.append(facet.activity_id.in_(speaking))
    # Capacity is read per candidate through its primary key (a correlated subquery), not
    # joined: a join made PostgreSQL hash the whole capacity table for every search.
    capacity_status = effective_sql(ActivityCapacity, now)
    if request.accepting_referrals:
        where += [
            facet.takes_referrals.is_(True),
            exists().where(
                ActivityCapacity.activity_id == facet.activity_id,
                capacity_status.in_(ACCEPTING_VALUES),
            ),
        ]
    if request.assured_only:
        where.append(facet.assured_until >= now.date())
    # Listings not confirmed for too long drop out of referral search (their organisation
    # still sees them in /v1/activities and in its review queue).
    where.append(facet.last_confirmed_at >= now - timedelta(days=get_settings().hide_after_days))

    score = _score(request, terms, distance, now, capacity_status, dialect, few)
    statement = select(
        facet.activity_id,
        facet.name,
        distance if distance is not None else cast(null(), Float).label("distance_km"),
        score.label("score"),
        # Ranking visits every match anyway, so counting them is nearly free; a second,
        # capped count would scan the table again.
        func.count().over().label("total"),
    ).select_from(facet)
    for subquery in joins:
        statement = statement.outerjoin(subquery, subquery.c.activity_id == facet.activity_id)
    return statement.where(*where), distance, score


def _tagged(term_ids: set[uuid.UUID], dialect: str):
    if not term_ids:
        return false()
    return sql.json_has_any(ActivityFacet.term_ids, sorted(str(t) for t in term_ids), dialect)


def _schedule_conditions(request: SearchRequest, now: datetime) -> list:
    conditions = [
        Schedule.activity_id == ActivityFacet.activity_id,
        or_(Schedule.valid_to.is_(None), Schedule.valid_to >= now.date()),
    ]
    if request.days:
        conditions.append(sql.any_of([Schedule.byday.contains(day) for day in request.days]))
    if request.available_from:
        conditions.append(Schedule.opens_at >= request.available_from)
    if request.available_to:
        conditions.append(Schedule.closes_at <= request.available_to)
    return conditions


def _score(request, terms, distance, now, capacity_status, dialect, few):
    facet = ActivityFacet
    if terms.asked.wanted or terms.from_q.wanted:
        answers = [(_tagged(terms.asked.direct | terms.from_q.direct, dialect), 1.0)]
        if terms.from_q.wanted and terms.q_words:
            answers.append((sql.text_match(facet.activity_id, terms.q_words, dialect, few), 1.0))
        relevance = case(*answers, else_=0.8)
    else:
        relevance = literal(1.0)
    if distance is not None:
        proximity = case(
            (distance.is_(None), 0.5), else_=1.0 - cast(distance, Float) / request.radius_km
        )
    else:
        proximity = literal(0.5)
    by_capacity = (
        select(
            case(
                (capacity_status == CapacityStatus.open.value, 1.0),
                (capacity_status == CapacityStatus.waitlist.value, 0.5),
                else_=0.0,
            )
        )
        .where(ActivityCapacity.activity_id == facet.activity_id)
        .scalar_subquery()
    )
    accepting = case(
        (facet.takes_referrals.is_not(True), 0.0), else_=func.coalesce(by_capacity, 1.0)
    )
    freshness = case(
        (facet.last_confirmed_at >= now - timedelta(days=90), 1.0),
        (facet.last_confirmed_at >= now - timedelta(days=180), 0.6),
        (facet.last_confirmed_at >= now - timedelta(days=365), 0.3),
        else_=0.0,
    )
    return (
        WEIGHTS["relevance"] * relevance
        + WEIGHTS["proximity"] * proximity
        + WEIGHTS["accepting"] * accepting
        + WEIGHTS["freshness"] * freshness
    )


def _page_rows(session, request, planned, params, now):
    """The page's rows (``with_cards`` mappings) in the requested order, and the count of
    all matches (from the window count of the query that ranked them)."""
    if request.sort is SearchSort.next_session:
        by_score = planned.statement.order_by(
            *_order(
                SearchSort.relevance,
                None,
                planned.score,
                ActivityFacet.name,
                ActivityFacet.activity_id,
            )
        )
        candidates = session.execute(by_score.limit(NEXT_SESSION_SORT_LIMIT)).all()
        sessions = _next_sessions(session, request, [row[0] for row in candidates], now)
        far_future = datetime.max.replace(tzinfo=now.tzinfo)
        ordered = sorted(
            candidates,
            key=lambda row: (
                sessions[row[0]].starts_at if sessions.get(row[0]) else far_future,
                row[1],
            ),
        )
        wanted = [row[0] for row in ordered[params.offset : params.offset + params.per_page]]
        found = {
            row.activity_id: row._mapping
            for row in (
                session.execute(page_statement(planned, request.sort, params, wanted))
                if wanted
                else []
            )
        }
        rows = [found[activity_id] for activity_id in wanted if activity_id in found]
        return rows, candidates[0].total if candidates else 0
    rows = [row._mapping for row in session.execute(page_statement(planned, request.sort, params))]
    if rows:
        return rows, rows[0]["total"]
    if params.page == 1:
        return [], 0
    everything = select(func.count()).select_from(planned.statement.subquery())
    return [], session.execute(everything).scalar_one()


# --- dressing the page --------------------------------------------------------------------


def _next_sessions(session, request, activity_ids, now):
    """Next session per activity (from its card, less its closures and any pause)."""
    window = (request.available_from, request.available_to)
    days = set(request.days) or None
    found = {}
    for row in session.execute(
        cards.with_cards(
            select(ActivityFacet.activity_id).where(ActivityFacet.activity_id.in_(activity_ids)),
            "activity_id",
            lambda columns: [columns.activity_id],
        )
    ):
        card = row._mapping["card"]
        found[row.activity_id] = next_session(
            [CardSchedule.from_card(s) for s in card["schedules"]],
            now,
            days,
            window,
            Closed.of(card, cards.capacity_of(row._mapping), now),
        )
    return found


OPTION_ACTIVITY_FIELDS = tuple(OptionActivity.model_fields)


def _dress(session, request, rows, location, terms, now) -> list[dict[str, Any]]:
    """Everything a link worker reads about each result (a ``ReferralOption``, as JSON),
    from the rows of the page's one statement: the card's parts passed through as stored,
    and what depends on now and on this search worked out here."""
    if not rows:
        return []
    standings = cards.standings(session, rows, now)
    filters = _applied_filters(request)
    window = (request.available_from, request.available_to)
    days = set(request.days) or None
    options = []
    for row in rows:
        card = row["card"]
        live = set(card["live_venue_ids"])
        venues = [v for v in card["venues"] if v["id"] in live]
        venue = _nearest_venue(venues, location)
        capacity_row = cards.capacity_of(row)
        schedules = [CardSchedule.from_card(s) for s in card["schedules"]]
        closed = Closed.of(card, capacity_row, now)
        upcoming = next_session(schedules, now, days, window, closed)
        capacity = summarise_capacity(capacity_row, now)
        standing = standings[row["card_organisation_id"]]
        distance = row["distance_km"]
        tags = {uuid.UUID(t["id"]) for t in card["terms"]}
        options.append(
            {
                "activity": {name: card[name] for name in OPTION_ACTIVITY_FIELDS},
                "organisation": card["provider"],
                "contact": _contact(card),
                "remote": not venues,
                "schedules": card["schedules"],
                "venues": venues,
                "distance_km": round(distance, 2) if distance is not None else None,
                "nearest_venue": venue,
                "next_session": NextSession(
                    starts_at=upcoming.starts_at,
                    ends_at=upcoming.ends_at,
                    venue_id=upcoming.schedule.venue_id,
                ).model_dump(mode="json")
                if upcoming
                else None,
                "closures": notices(closed, schedules, now),
                "capacity_status": str(capacity.status),
                "capacity": capacity.model_dump(mode="json"),
                "responsiveness": standing.responsiveness.model_dump(mode="json"),
                "assurance_status": str(standing.assurance_level),
                "freshness": freshness(
                    datetime.fromisoformat(card["last_confirmed_at"]), now
                ).model_dump(mode="json"),
                "score": round(float(row["score"]), 4),
                "matched": _matched(tags, terms, filters).model_dump(mode="json"),
            }
        )
    return options


def _serving_remotely(location: Location) -> Select:
    """(activity id, no distance) for the services with no venue whose organisation
    declares an area holding the place searched: its postcode sector, or its district when
    there is no sector."""
    areas = select(AreaKey.area_id).where(AreaKey.key == (location.sector or location.outcode))
    serving = select(OrganisationServedArea.organisation_id).where(
        OrganisationServedArea.area_id.in_(areas)
    )
    return select(Activity.id, null()).where(
        Activity.organisation_id.in_(serving),
        ~exists().where(ActivityVenue.activity_id == Activity.id),
    )


def _contact(card: dict) -> dict[str, str | None]:
    """How to reach the activity, as its provider chose: the activity's own phone, email
    and website, else its organisation's."""
    provider = card["provider"]
    return {
        "phone": card["phone"] or provider["phone"],
        "email": card["email"],
        "website": card["url"] or provider["website"],
    }


def _nearest_venue(venues: list[dict], location: Location | None) -> dict | None:
    venues = [v for v in venues if v["latitude"] is not None]
    if not venues:
        return None
    if location is None:
        return min(venues, key=lambda v: v["name"])
    return min(
        venues,
        key=lambda v: distance_km(
            location.latitude, location.longitude, v["latitude"], v["longitude"]
        ),
    )


def _matched(tags, terms: _Terms, filters) -> Matched:
    needs, categories = set(), set()
    for term_set in (terms.asked, terms.from_q):
        needs |= {
            name
            for need_id, name in term_set.needs.items()
            if need_id in tags or any(need_id in term_set.via_needs.get(tag, ()) for tag in tags)
        }
        categories |= {term_set.categories[tag] for tag in tags if tag in term_set.categories}
    return Matched(
        needs=sorted(needs),
        categories=sorted(categories),
        words=list(terms.q_words),
        filters=filters,
    )


def _applied_filters(request: SearchRequest) -> list[str]:
    applied = {
        "location": bool(request.postcode or request.latitude is not None),
        "age": request.age is not None,
        "day": bool(request.days),
        "time": bool(request.available_from or request.available_to),
        "delivery": bool(request.delivery),
        "cost": request.cost is not None,
        "accessibility": bool(request.accessibility),
        "language": bool(request.languages),
        "accepting_referrals": request.accepting_referrals,
        "assured_only": request.assured_only,
    }
    return [name for name, on in applied.items() if on]


def _location_out(location: Location | None, request: SearchRequest) -> SearchLocation | None:
    if location is None:
        return None
    return SearchLocation(
        precision=location.precision,
        outcode=location.outcode,
        latitude=round(location.latitude, 5),
        longitude=round(location.longitude, 5),
        radius_km=request.radius_km,
        note=location.note,
    )


# --- the search log -----------------------------------------------------------------------


def _age_band(age: int | None) -> str | None:
    if age is None:
        return None
    for upper, band in ((17, "0-17"), (24, "18-24"), (39, "25-39"), (54, "40-54"), (64, "55-64")):
        if age <= upper:
            return band
    return "65+"


def _log(request, location, terms, result_count) -> SearchLog:
    filters = {
        "radius_km": request.radius_km if location else None,
        "age_band": _age_band(request.age),
        "days": request.days,
        "available_from": request.available_from.isoformat() if request.available_from else None,
        "available_to": request.available_to.isoformat() if request.available_to else None,
        "delivery": [str(mode) for mode in request.delivery],
        "cost": str(request.cost) if request.cost else None,
        "accessibility": [str(feature) for feature in request.accessibility],
        "languages": request.languages,
        "accepting_referrals": request.accepting_referrals,
        "assured_only": request.assured_only,
        "include_online": request.include_online,
        "include_remote": request.include_remote,
        "q_terms": sorted(str(term_id) for term_id in terms.from_q.direct),
        "unknown_terms": len(terms.unknown),
    }
    return SearchLog(
        outcode=location.outcode if location else None,
        sector=location.sector if location else None,
        need_ids=sorted(str(term_id) for term_id in terms.asked.needs),
        category_ids=sorted(str(term_id) for term_id in terms.asked.categories),
        unmatched=list(dict.fromkeys(terms.unmatched)),
        filters={key: value for key, value in filters.items() if value not in (None, [], False)},
        result_count=result_count,
    )


def write_log(entry: SearchLog) -> None:
    """Store a search's log row in its own short transaction, after the answer has gone
    (a FastAPI background task), so no search waits for it. A failure is logged, once and
    without the row, and costs only that statistic."""
    try:
        with Session(get_engine()) as session:
            if session.get_bind().dialect.name == "postgresql":
                # Statistics: losing the last few on a crash is fine, so do not make the
                # commit wait for a WAL flush.
                session.execute(text("SET LOCAL synchronous_commit = off"))
            session.add(entry)
            session.commit()
    except Exception as error:
        logger.warning("search_log_not_written", error=type(error).__name__)
