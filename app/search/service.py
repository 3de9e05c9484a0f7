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

import functools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    String,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    union_all,
)
from sqlmodel import Session

from app.activities import cards
from app.activities.freshness import freshness_json
from app.activities.models import (
    Activity,
    ActivityVenue,
    DeliveryMode,
    Schedule,
)
from app.areas.models import AreaKey, OrganisationServedArea
from app.capacity.models import CapacityStatus
from app.capacity.rules import ACCEPTING, effective_sql, week_starting
from app.capacity.service import summary_json as capacity_json
from app.core import reads
from app.core.config import get_settings
from app.core.errors import InvalidField
from app.core.pagination import JsonPage, PageParams, make_page
from app.core.schemas import as_json
from app.core.types import UTCDateTime, utcnow
from app.geo.service import (
    Location,
    bounding_box,
    distance_km,
    nearest_outcode,
    resolve_postcode,
)
from app.search import lexicon, sql
from app.search.indexing import delivery_mask, weekday_mask
from app.search.models import ActivityFacet, ActivityPlace, CapacityView, SearchLog
from app.search.schedule import CardSchedule, Closed, next_session, notices
from app.search.schemas import (
    Correction,
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

WEIGHTS = {"relevance": 0.40, "proximity": 0.30, "accepting": 0.15, "freshness": 0.15}
FEW_RESULTS = 3
NEXT_SESSION_SORT_LIMIT = 2000
SHAPES_KEPT = 512  # distinct request shapes whose statements each worker keeps
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
    """A request understood: where, which terms, which words, and the filtered query:
    the statement kept for requests of its shape (``_Shape``) and this request's values."""

    location: Location | None
    terms: _Terms
    shape: "_Shape | None" = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def built(self) -> "_Built":
        """The statement kept for this request's shape, with its columns."""
        return _built(self.shape)


def plan(session: Session, request: SearchRequest, now: datetime) -> Plan:
    dialect = session.get_bind().dialect.name
    location = _locate(session, request)
    terms = _resolve_terms(session, request)
    if terms.unknown:
        return Plan(location, terms)
    shape = _Shape.of(request, location, terms, dialect)
    context = _Context(request, location, terms, now)
    values = {name: value(context) for name, value in _built(shape).values}
    return Plan(location, terms, shape, values)


def _order(sort: SearchSort, distance, score, name, activity_id) -> list:
    tie = [name, activity_id]
    if sort is SearchSort.distance and distance is not None:
        return [distance.is_(None), distance, *tie]
    if sort is SearchSort.name:
        return tie
    return [score.desc(), *tie]


def page_statement(
    planned: Plan, sort: SearchSort, params: PageParams, ids=None
) -> tuple[reads.Kept, dict[str, Any]]:
    """The page's one statement, in ``sort`` order (all but next_session, which is ordered
    in Python and passes the page's ``ids``): the filtered, ranked page with the count of
    all matches, and each row's card, capacity and standing; with the values to run it
    with. Built once per shape and order, like the query it pages."""
    if ids is not None:  # the total: counted by the query that found the candidates
        return _page_of_ids(planned.shape), {**planned.values, "ids": list(ids)}
    values = {**planned.values, "offset": params.offset, "limit": params.per_page}
    return _ranked_page(planned.shape, sort), values


@functools.lru_cache(maxsize=SHAPES_KEPT)
def _ranked_page(shape: "_Shape", sort: SearchSort) -> reads.Kept:
    built = _built(shape)
    located = built.distance is not None
    page = (
        built.statement.order_by(
            *_order(sort, built.distance, built.score, built.name, built.activity_id)
        )
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
    )

    def in_order(c):  # the same order, on the page's own columns
        return _order(sort, c.distance_km if located else None, c.score, c.name, c.activity_id)

    return reads.Kept(cards.with_cards(page, "activity_id", in_order))


@functools.lru_cache(maxsize=SHAPES_KEPT)
def _page_of_ids(shape: "_Shape") -> reads.Kept:
    ids = bindparam("ids", expanding=True, type_=ActivityFacet.activity_id.type)
    built = _built(shape)
    page = built.statement.where(built.activity_id.in_(ids))
    return reads.Kept(cards.with_cards(page, "activity_id", lambda _: []))


def search(
    session: Session, request: SearchRequest, params: PageParams, now: datetime | None = None
) -> tuple[JsonPage, SearchLog]:
    """Read with ``session`` (a replica's, perhaps). Returns the page and the search-log row
    for it, which the caller hands to ``search_log.add`` once the answer has gone."""
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


# --- the statement, built once per shape ---------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """Everything that decides the form of a search's statement, and nothing of its values:
    requests of one shape share one statement (built once, ``_built``), each binding its own
    postcode, terms, words and times. Building and caching the statement afresh for every
    request cost more Python than the rest of a located search's answer."""

    dialect: str
    located: bool
    accessibility: int  # features asked for (SQLite checks each with its own value)
    remote: bool  # services with no venue that serve the place join the candidates
    online: bool  # activities with no venue pass a located search
    asked: bool  # needs or categories asked for
    direct: bool  # ... of which some asked for directly (not only via a need)
    from_q: bool  # needs or categories that words in q named
    words: bool  # q's words, as text
    age: bool
    days: int
    available_from: bool
    available_to: bool
    delivery: bool
    cost: CostFilter | None
    languages: bool
    accepting: bool
    assured: bool

    @classmethod
    def of(cls, request: SearchRequest, location, terms: _Terms, dialect: str) -> "_Shape":
        located = location is not None
        return cls(
            dialect=dialect,
            located=located,
            accessibility=len(request.accessibility),
            remote=located
            and request.include_remote
            and not request.include_online
            and not request.accessibility,
            online=request.include_online,
            asked=bool(terms.asked.wanted),
            direct=bool(terms.asked.direct | terms.from_q.direct),
            from_q=bool(terms.from_q.wanted),
            words=bool(terms.q_words),
            age=request.age is not None,
            days=len(set(request.days)),
            available_from=request.available_from is not None,
            available_to=request.available_to is not None,
            delivery=bool(request.delivery),
            cost=request.cost,
            languages=bool(request.languages),
            accepting=request.accepting_referrals,
            assured=request.assured_only,
        )


@dataclass(frozen=True)
class _Context:
    """One request's values, which the kept statement's parameters are read from."""

    request: SearchRequest
    location: Location | None
    terms: _Terms
    now: datetime

    @functools.cached_property
    def box(self) -> tuple[float, ...]:
        location = self.location
        return bounding_box(location.latitude, location.longitude, self.request.radius_km)


@dataclass(frozen=True)
class _Built:
    statement: Select
    distance: Any
    score: Any
    name: Any
    activity_id: Any
    values: tuple[tuple[str, Callable[[_Context], Any]], ...]  # parameter, how to read it


class _Binder:
    """Parameters for a statement under construction, each with how a request's value is
    read (so a parameter is named, and its value found, in one place)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.values: dict[str, Callable[[_Context], Any]] = {}

    def __call__(self, name: str, read: Callable[[_Context], Any], type_=None) -> Any:
        self.values[name] = read
        return bindparam(name, type_=type_)

    def strings(self, name: str, read: Callable[[_Context], list[str]]) -> Any:
        self.values[name] = read
        return sql.bound_strings(name, self.dialect)

    def text(self, name: str, read: Callable[[_Context], list[str]]) -> Any:
        self.values[name] = lambda c: sql.text_query(read(c), self.dialect)
        return bindparam(name, type_=String)


def _ids(term_ids: set[uuid.UUID]) -> list[str]:
    return sorted(str(t) for t in term_ids)


def _names_q_terms(bind: _Binder, source) -> ColumnElement[bool]:
    """The activity carries a term that q's words named (or a narrower one)."""
    named = bind.strings("from_q", lambda c: _ids(c.terms.from_q.wanted))
    return sql.json_has_any(source.term_ids, named, bind.dialect)


@functools.lru_cache(maxsize=SHAPES_KEPT)
def _built(shape: _Shape) -> _Built:
    """The filtered, scored candidates of ``shape``'s requests. A search without a place
    reads the narrow ``activity_facet`` table; one with a place reads the rows of
    ``activity_place`` in its bounding box, which carry the same facets (and the text
    vector), each activity's nearest row counting, plus (``_no_venue_part``) the services
    without a venue that the request lets in."""
    bind = _Binder(shape.dialect)
    dialect = shape.dialect
    # The features asked for: one list on PostgreSQL, one value each on SQLite (whose
    # json_has_all checks them one by one).
    features = (
        bind.strings("accessibility", lambda c: [str(f) for f in c.request.accessibility])
        if dialect == "postgresql"
        else [
            bind(f"accessibility_{n}", lambda c, n=n: str(c.request.accessibility[n]), String)
            for n in range(shape.accessibility)
        ]
    )
    words = bind.text("words", lambda c: c.terms.q_words) if shape.words else None
    facet = ActivityFacet
    if not shape.located:
        where = _conditions(shape, bind, facet, _words_of(shape, facet, words))
        if shape.accessibility:
            accessible = (
                select(ActivityVenue.activity_id)
                .join(Venue, Venue.id == ActivityVenue.venue_id)
                .where(
                    Venue.archived_at.is_(None),
                    sql.json_has_all(Venue.accessibility, features, dialect),
                )
            )
            where.append(facet.activity_id.in_(accessible))
        score = _score(shape, bind, facet, _words_of(shape, facet, words), None)
        statement = select(
            facet.activity_id,
            facet.name,
            cast(null(), Float).label("distance_km"),
            score.label("score"),
            # Ranking visits every match anyway, so counting them is nearly free; a second,
            # capped count would scan the table again.
            func.count().over().label("total"),
        ).where(*where)
        return _Built(
            statement, None, score, facet.name, facet.activity_id, tuple(bind.values.items())
        )

    place = ActivityPlace
    latitude = bind("latitude", lambda c: c.location.latitude, Float)
    longitude = bind("longitude", lambda c: c.location.longitude, Float)
    radius = bind("radius_km", lambda c: float(c.request.radius_km), Float)
    exact = sql.haversine_km(place.latitude, place.longitude, latitude, longitude)
    place_words = _words_of(shape, place, words)
    where = [
        place.latitude.between(
            bind("lat_min", lambda c: c.box[0], Float), bind("lat_max", lambda c: c.box[1])
        ),
        place.longitude.between(
            bind("lon_min", lambda c: c.box[2], Float), bind("lon_max", lambda c: c.box[3])
        ),
        exact <= radius,
        *_conditions(shape, bind, place, place_words),
    ]
    if shape.accessibility:
        where.append(sql.json_has_all(place.accessibility, features, dialect))
    # An activity's facets are the same on each of its rows, and its score falls with
    # distance only: its best row is its nearest.
    parts = [
        select(
            place.activity_id,
            func.min(place.name).label("name"),
            func.min(exact).label("distance_km"),
            func.max(_score(shape, bind, place, place_words, exact)).label("score"),
        )
        .where(*where)
        .group_by(place.activity_id)
    ]
    if shape.remote or (shape.online and not shape.accessibility):
        parts.append(_no_venue_part(shape, bind, words))
    found = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("found")
    statement = select(
        found.c.activity_id,
        found.c.name,
        found.c.distance_km,
        found.c.score,
        func.count().over().label("total"),
    )
    return _Built(
        statement,
        found.c.distance_km,
        found.c.score,
        found.c.name,
        found.c.activity_id,
        tuple(bind.values.items()),
    )


def _no_venue_part(shape: _Shape, bind: _Binder, words) -> Select:
    """The services without a venue that a located search lets in, with no distance:
    those whose organisation serves the place searched (phone, online and home visits), or
    with ``include_online`` every one."""
    facet = ActivityFacet
    if shape.remote:
        # The place's postcode sector, or its district when it has no sector.
        key = bind("place_key", lambda c: c.location.sector or c.location.outcode, String)
        which = facet.activity_id.in_(_serving_remotely(key))
    else:
        which = ~exists().where(ActivityVenue.activity_id == facet.activity_id)
    # Serving this place: a few candidates, each checked for its words through its key.
    matches = _words_of(shape, facet, words, per_candidate=shape.remote)
    return select(
        facet.activity_id,
        facet.name,
        cast(null(), Float).label("distance_km"),
        _score(shape, bind, facet, matches, None).label("score"),
    ).where(which, *_conditions(shape, bind, facet, matches))


def _words_of(shape: _Shape, source, words, per_candidate: bool = False):
    """How rows of ``source`` are checked for q's words (``sql.text_match``): place rows
    carry their own copy of the text vector."""
    if words is None:
        return None
    vector = sql.PLACE_TSV if source is ActivityPlace else None
    return sql.text_match(source.activity_id, words, shape.dialect, per_candidate, vector)


def _conditions(shape: _Shape, bind: _Binder, source, matches) -> list:
    """What a row of ``source`` (``ActivityFacet`` or ``ActivityPlace``, which carry the
    same facets) must satisfy; ``matches`` checks q's words."""
    dialect = shape.dialect
    where = [source.listed.is_(True)]
    if shape.asked:
        asked = bind.strings("asked", lambda c: _ids(c.terms.asked.wanted))
        where.append(sql.json_has_any(source.term_ids, asked, dialect))
    if shape.from_q:
        # q's words as text, or the terms they named; the other words ("since her husband
        # died") only rank: those that match every word come first
        # The terms first: a row naming one is let in without a look at its words.
        named = _names_q_terms(bind, source)
        where.append(or_(named, matches) if shape.words else named)
    elif shape.words:
        where.append(matches)
    if shape.age:
        age = bind("age", lambda c: c.request.age, Integer)
        where += [
            or_(source.minimum_age.is_(None), source.minimum_age <= age),
            or_(source.maximum_age.is_(None), source.maximum_age >= age),
        ]
    if shape.days:
        mask = bind("weekdays", lambda c: weekday_mask(c.request.days), Integer)
        where.append(source.weekdays.op("&")(mask) != 0)
    if shape.available_from or shape.available_to:
        where.append(exists(select(1).where(*_schedule_conditions(shape, bind, source))))
    if shape.delivery:
        modes = bind("delivery", lambda c: delivery_mask(c.request.delivery), Integer)
        where.append(source.delivery.op("&")(modes) != 0)
    if shape.cost is CostFilter.free:
        where.append(source.cost_class == 0)
    elif shape.cost is CostFilter.low_cost:
        where.append(source.cost_class <= 2)
    if shape.languages:
        languages = bind.strings("languages", lambda c: list(c.request.languages))
        speaking = select(Activity.id).where(
            sql.json_has_any(Activity.languages, languages, dialect)
        )
        where.append(source.activity_id.in_(speaking))
    if shape.accepting:
        where += [
            source.takes_referrals.is_(True),
            source.capacity_status.is_not(None),  # it has a capacity row
            _capacity_status(bind, source).in_(ACCEPTING_VALUES),
        ]
    if shape.assured:
        where.append(source.assured_until >= bind("today", lambda c: c.now.date(), Date))
    # Listings not confirmed for too long drop out of referral search (their organisation
    # still sees them in /v1/activities and in its review queue).
    hidden_before = bind(
        "hidden_before",
        lambda c: c.now - timedelta(days=get_settings().hide_after_days),  # read per request
        UTCDateTime(),
    )
    where.append(source.last_confirmed_at >= hidden_before)
    return where


def _capacity_status(bind: _Binder, source):
    """The activity's capacity status now, as SQL (``app.capacity.rules``), from the copy of
    its capacity row that ``source`` (facet or place rows) carries: no look-up per
    candidate in ``activity_capacity``."""
    now = bind("now", lambda c: c.now, UTCDateTime())
    week = bind("week", lambda c: week_starting(c.now), Date)
    return effective_sql(CapacityView(source), now, week)


def _schedule_conditions(shape: _Shape, bind: _Binder, source) -> list:
    today = bind("today", lambda c: c.now.date(), Date)
    conditions = [
        Schedule.activity_id == source.activity_id,
        or_(Schedule.valid_to.is_(None), Schedule.valid_to >= today),
    ]
    if shape.days:
        days = [
            bind(f"day_{n}", lambda c, n=n: sorted(set(c.request.days))[n], String)
            for n in range(shape.days)
        ]
        conditions.append(sql.any_of([Schedule.byday.contains(day) for day in days]))
    if shape.available_from:
        conditions.append(
            Schedule.opens_at >= bind("available_from", lambda c: c.request.available_from)
        )
    if shape.available_to:
        conditions.append(
            Schedule.closes_at <= bind("available_to", lambda c: c.request.available_to)
        )
    return conditions


def _score(shape: _Shape, bind: _Binder, source, matches, distance):
    """A row's score (see the module's docstring); ``distance`` null: no place searched,
    or a service without a venue."""
    dialect = shape.dialect
    if shape.asked or shape.from_q:
        direct = (
            sql.json_has_any(
                source.term_ids,
                bind.strings(
                    "direct", lambda c: _ids(c.terms.asked.direct | c.terms.from_q.direct)
                ),
                dialect,
            )
            if shape.direct
            else false()
        )
        answers = [(direct, 1.0)]
        if shape.from_q and shape.words:
            # The filter let in only rows naming q's terms or holding its words: a row that
            # names none of them holds the words, with no second look at them.
            answers.append((not_(_names_q_terms(bind, source)), 1.0))
            answers.append((matches, 1.0))
        relevance = case(*answers, else_=0.8)
    else:
        relevance = literal(1.0)
    if distance is not None:
        radius = bind("radius_km", lambda c: float(c.request.radius_km), Float)
        proximity = 1.0 - cast(distance, Float) / radius
    else:
        proximity = literal(0.5)
    capacity_status = _capacity_status(bind, source)  # no capacity row: open
    accepting = case(
        (source.takes_referrals.is_not(True), 0.0),
        (capacity_status == CapacityStatus.open.value, 1.0),
        (capacity_status == CapacityStatus.waitlist.value, 0.5),
        else_=0.0,
    )
    fresh = [
        bind(f"confirmed_within_{days}", lambda c, days=days: c.now - timedelta(days=days),
             UTCDateTime())
        for days in (90, 180, 365)
    ]  # fmt: skip
    freshness = case(
        (source.last_confirmed_at >= fresh[0], 1.0),
        (source.last_confirmed_at >= fresh[1], 0.6),
        (source.last_confirmed_at >= fresh[2], 0.3),
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
    all matches (from the window count of the query that ranked them). Read through the
    session's connection, not the ORM (the statements select columns, not entities), and
    its page statement through ``reads.Kept``: compiled once, no per-execution work."""
    reader = session.connection()
    if request.sort is SearchSort.next_session:
        built = planned.built
        by_score = built.statement.order_by(
            *_order(SearchSort.relevance, None, built.score, built.name, built.activity_id)
        )
        candidates = reader.execute(by_score.limit(NEXT_SESSION_SORT_LIMIT), planned.values).all()
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
        found = {}
        if wanted:
            kept, values = page_statement(planned, request.sort, params, wanted)
            found = {row["activity_id"]: row for row in kept.rows(session, values)}
        rows = [found[activity_id] for activity_id in wanted if activity_id in found]
        return rows, candidates[0].total if candidates else 0
    kept, values = page_statement(planned, request.sort, params)
    rows = kept.rows(session, values)
    if rows:
        return rows, rows[0]["total"]
    if params.page == 1:
        return [], 0
    everything = select(func.count()).select_from(planned.built.statement.subquery())
    return [], reader.execute(everything, planned.values).scalar_one()


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
    matcher = _Matcher(terms, _applied_filters(request))
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
        capacity = capacity_json(capacity_row, now)
        standing = standings[row["card_organisation_id"]]
        distance = row["distance_km"]
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
                "next_session": as_json(
                    NextSession,
                    starts_at=upcoming.starts_at,
                    ends_at=upcoming.ends_at,
                    venue_id=_uuid_or_none(upcoming.schedule.venue_id),
                )
                if upcoming
                else None,
                "closures": notices(closed, schedules, now),
                "capacity_status": capacity["status"],
                "capacity": capacity,
                "responsiveness": standing.responsiveness_json,
                "assurance_status": str(standing.assurance_level),
                "freshness": freshness_json(datetime.fromisoformat(card["last_confirmed_at"]), now),
                "score": round(float(row["score"]), 4),
                "matched": matcher.json(t["id"] for t in card["terms"]),
            }
        )
    return options


def _serving_remotely(place_key) -> Select:
    """The ids of the services with no venue whose organisation
    declares an area holding the place searched (``place_key``): its postcode sector, or
    its district when there is no sector."""
    areas = select(AreaKey.area_id).where(AreaKey.key == place_key)
    serving = select(OrganisationServedArea.organisation_id).where(
        OrganisationServedArea.area_id.in_(areas)
    )
    return select(Activity.id).where(
        Activity.organisation_id.in_(serving),
        ~exists().where(ActivityVenue.activity_id == Activity.id),
    )


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


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


class _Matcher:
    """Which requested needs and categories each of an activity's terms answers, worked
    out once per search: a need answers when the activity carries it or a category linked
    to it; a category when the activity carries it."""

    def __init__(self, terms: _Terms, filters: list[str]):
        self.by_term: dict[str, tuple[set[str], set[str]]] = {}
        for term_set in (terms.asked, terms.from_q):
            for need_id, name in term_set.needs.items():
                self._of(need_id)[0].add(name)
            for category_id, need_ids in term_set.via_needs.items():
                self._of(category_id)[0].update(term_set.needs[n] for n in need_ids)
            for category_id, name in term_set.categories.items():
                self._of(category_id)[1].add(name)
        self.words = list(terms.q_words)
        self.filters = filters

    def _of(self, term_id: uuid.UUID) -> tuple[set[str], set[str]]:
        return self.by_term.setdefault(str(term_id), (set(), set()))

    def json(self, term_ids: Iterable[str]) -> dict[str, list[str]]:
        """A ``Matched``, as JSON, for an activity carrying ``term_ids``."""
        needs: set[str] = set()
        categories: set[str] = set()
        for term_id in term_ids:
            if found := self.by_term.get(term_id):
                needs |= found[0]
                categories |= found[1]
        return {
            "needs": sorted(needs),
            "categories": sorted(categories),
            "words": list(self.words),
            "filters": list(self.filters),
        }


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
