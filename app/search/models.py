import uuid
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import text
from sqlmodel import Field, Index, Session, SQLModel, select

from app.core.types import JSONColumn, UTCDateTime, id_field, utcnow


class ActivitySearch(SQLModel, table=True):
    """The text an activity is found by: its name, description, who it suits, its
    organisation's name and its terms with their synonyms.

    PostgreSQL adds a generated ``tsv`` column with a GIN index; SQLite mirrors rows into
    the FTS5 table ``activity_fts`` by trigger (see migration 0003). Both stem English.
    """

    __tablename__ = "activity_search"

    activity_id: uuid.UUID = Field(foreign_key="activity.id", primary_key=True, ondelete="CASCADE")
    document: str = Field(max_length=20000)


# The condition of search_log's partial indexes, written the same way in the queries that
# use them (PostgreSQL proves a query may use a partial index only from a matching literal).
HAS_PHRASES = "unmatched <> '[]'"


class SearchLog(SQLModel, table=True):
    """One referral-options search, for unmet-demand reports. Nothing here identifies a
    person: the area is an outcode or postcode sector, age is kept as a band, and free
    text only as the vocabulary terms it matched or, when it matched none, as scrubbed words
    (``app.search.phrases``: no digits, nothing shaped like a postcode, email, phone or
    NHS number, at most a few short words)."""

    __tablename__ = "search_log"
    # About 1 search in 20 keeps unmatched words: the phrase reports read those through
    # these partial indexes (by place, or by time for England) instead of every search of
    # the area or period. ``HAS_PHRASES`` is the queries' matching condition.
    __table_args__ = tuple(
        Index(
            f"ix_search_log_phrases_{column}",
            column,
            postgresql_where=text(HAS_PHRASES),
            sqlite_where=text(HAS_PHRASES),
        )
        for column in ("sector", "outcode", "searched_at")
    )

    id: uuid.UUID = id_field()
    searched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    outcode: str | None = Field(default=None, max_length=4, index=True)
    # The postcode sector ("BS5 6", about 3,000 addresses), when a full postcode was given:
    # areas as small as wards see their demand; nothing finer is kept.
    sector: str | None = Field(default=None, max_length=6, index=True)
    need_ids: list[str] = Field(default_factory=list, sa_type=JSONColumn)
    category_ids: list[str] = Field(default_factory=list, sa_type=JSONColumn)
    filters: dict = Field(default_factory=dict, sa_type=JSONColumn)
    unmatched: list[str] = Field(
        default_factory=list,
        sa_type=JSONColumn,
        description="Scrubbed need words and q that matched no vocabulary term",
    )
    result_count: int


class SearchDemandDay(SQLModel, table=True):
    """Searches per day, place and need, counted as each search is logged
    (``app.search.demand``): what an area's demand by need is read from, so an area
    profile adds up a few hundred rows instead of scanning two years of the search log.
    ``place`` is the search's postcode sector, or its district when it had no sector."""

    __tablename__ = "search_demand_day"
    __table_args__ = (Index("ix_search_demand_day_place_day", "place", "day"),)

    day: date = Field(primary_key=True)
    place: str = Field(max_length=8, primary_key=True)
    need_id: str = Field(max_length=36, primary_key=True)
    searches: int = 0
    fewer_than_3: int = 0
    no_results: int = 0


class SearchWord(SQLModel, table=True):
    """Every word in any activity's search document: the lexicon that a misspelt word in
    ``q`` is corrected against (the same on both databases). Words are added as activities
    are indexed; ``signpost reindex-search`` rebuilds it."""

    __tablename__ = "search_word"

    word: str = Field(primary_key=True, max_length=32)


class SearchFacets(SQLModel):
    """Everything the referral search filters and ranks an activity on, kept by
    ``app.search.indexing`` on every write that changes it (and by ``signpost
    reindex-search``, which a scheduler runs nightly so ended schedules drop out)."""

    name: str = Field(max_length=255)
    # Published, live organisation and an active, live activity: fit to be referred to.
    listed: bool
    # Assured on any day up to and including this one (app/assurance/rules.py); null: not.
    assured_until: date | None = None
    takes_referrals: bool
    minimum_age: int | None = None
    maximum_age: int | None = None
    weekdays: int = Field(description="Bit n set when a current schedule meets on day n (MO=0)")
    delivery: int = Field(description="Bit per DeliveryMode, in declaration order")
    cost_class: int = Field(description="0 free, 1 donation, 2 fee up to £5, 3 dearer or unpriced")
    last_confirmed_at: datetime = Field(sa_type=UTCDateTime)
    # Its need and category term ids, so a search checks them on the row it reads anyway
    # (PostgreSQL also indexes the facets' with GIN: migration 0012).
    term_ids: list[str] = Field(
        default_factory=list, sa_type=JSONColumn, sa_column_kwargs={"server_default": "[]"}
    )
    # A copy of the capacity columns the capacity rule reads (``CAPACITY_COPIED``), kept by
    # ``app.capacity.service`` on every change, so whether an activity is taking referrals
    # is worked out on the row a search reads (``effective_sql`` over these), with no
    # look-up per candidate in ``activity_capacity``. All null: no capacity row.
    capacity_status: str | None = Field(default=None, max_length=32)
    capacity_when_full: str | None = Field(default=None, max_length=32)
    capacity_available: int | None = None
    capacity_weekly_referral_cap: int | None = None
    capacity_week_starting: date | None = None
    capacity_referrals_this_week: int | None = None
    capacity_paused_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


CAPACITY_COPIED = (
    "status",
    "when_full",
    "available",
    "weekly_referral_cap",
    "week_starting",
    "referrals_this_week",
    "paused_until",
)


def capacity_copy(capacity: Any | None) -> dict[str, Any]:
    """The ``capacity_*`` facets of a capacity row (an ``ActivityCapacity`` or a row with
    its columns; None: none)."""
    values = {}
    for name in CAPACITY_COPIED:
        value = getattr(capacity, name) if capacity is not None else None
        values[f"capacity_{name}"] = value.value if isinstance(value, Enum) else value
    return values


class CapacityView:
    """``source``'s ``capacity_*`` columns under the capacity row's own names, for
    ``app.capacity.rules.effective_sql``."""

    def __init__(self, source: Any):
        for name in CAPACITY_COPIED:
            setattr(self, name, getattr(source, f"capacity_{name}"))


# Place rows' pages are filled to this percentage (PostgreSQL), leaving room for a row's
# next capacity change to be written beside it: no index entries to write, and the rows
# keep their place order (app/search/upkeep.py; migration 0023). More room would make every
# located search read more pages.
PLACE_FILLFACTOR = 90


class ActivityFacet(SearchFacets, table=True):
    """One narrow row per activity with its ``SearchFacets``, so a national search reads one
    small indexed table instead of joining five."""

    __tablename__ = "activity_facet"
    __table_args__ = (Index("ix_activity_facet_listed_cost", "listed", "cost_class"),)

    activity_id: uuid.UUID = Field(foreign_key="activity.id", primary_key=True, ondelete="CASCADE")


def lock_facet_rows(session: Session, activity_ids: Any) -> None:
    """Lock the facet rows of ``activity_ids`` (a list, or a select of ids) in key order.
    Every write that changes more than one activity's search rows takes them so: facet
    rows in key order, then place rows (a capacity change: its capacity row first). Two
    writers then take turns instead of deadlocking or colliding."""
    session.execute(
        select(ActivityFacet.activity_id)
        .where(ActivityFacet.activity_id.in_(activity_ids))
        .order_by(ActivityFacet.activity_id)
        .with_for_update()
    ).all()


class ActivityPlace(SearchFacets, table=True):
    """Where each activity meets, with the coordinates copied from its live venues and a
    copy of the activity's ``SearchFacets``: a located search reads the rows in its bounding
    box (one range scan on one index) and filters and ranks them there, with no look-up
    per candidate in another table. On PostgreSQL each row also holds the activity's
    ``tsv`` (migration 0021), so its words are checked on the row too."""

    __tablename__ = "activity_place"
    __table_args__ = (
        Index("ix_activity_place_latitude_longitude", "latitude", "longitude"),
        {"postgresql_with": {"fillfactor": PLACE_FILLFACTOR}},
    )

    activity_id: uuid.UUID = Field(foreign_key="activity.id", primary_key=True, ondelete="CASCADE")
    venue_id: uuid.UUID = Field(
        foreign_key="venue.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    latitude: float
    longitude: float
    accessibility: list[str] = Field(default_factory=list, sa_type=JSONColumn)


FACET_FIELDS = tuple(SearchFacets.model_fields)


class ActivityCardRecord(SQLModel, table=True):
    """Per activity, what a listing or search result shows of it that does not change with
    the clock (``ActivityCard``, as JSON, plus the provider's contact block under
    ``provider``). Rebuilt from the live tables by ``app.search.indexing`` on every write
    that changes it; read in the same statement as the page it belongs to, with the live
    capacity row and the organisation's standing, so a page costs one round trip."""

    __tablename__ = "activity_card"

    activity_id: uuid.UUID = Field(foreign_key="activity.id", primary_key=True, ondelete="CASCADE")
    organisation_id: uuid.UUID = Field(
        foreign_key="organisation.id", index=True, ondelete="CASCADE"
    )
    card: dict = Field(sa_type=JSONColumn)
