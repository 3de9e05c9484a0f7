import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, or_, true
from sqlmodel import Session, select

from app.accounts.principal import Principal
from app.activities import cards
from app.activities.models import (
    Activity,
    ActivityBase,
    ActivityStatus,
    ActivityTerm,
    ActivityVenue,
    Schedule,
)
from app.activities.schemas import ActivityCreate, ActivityPage, ActivityPublic, ScheduleIn
from app.capacity import service as capacity
from app.closures import lookup as closures
from app.core import reads
from app.core.config import get_settings
from app.core.errors import Conflict, Forbidden, InvalidField, NotFound
from app.core.pagination import JsonPage, PageParams, capped_count, page_of
from app.core.sorting import (
    ListingSort,
    after_clause,
    after_values,
    cursor_after,
    order_by_clauses,
)
from app.core.types import utcnow
from app.core.validation import validate_merged
from app.openreferral import counts
from app.organisations import standing as organisation_standing
from app.organisations import visibility as organisation_visibility
from app.organisations.models import Organisation
from app.search import indexing as search_index
from app.search.schedule import uk_today
from app.venues.models import Venue
from app.vocabulary import service as vocabulary


@dataclass(frozen=True)
class ActivityFilters:
    organisation_id: uuid.UUID | None = None
    status: ActivityStatus | None = None
    term_ids: tuple[uuid.UUID, ...] = ()
    venue_id: uuid.UUID | None = None
    modified_after: datetime | None = None
    include_archived: bool = False
    sort: ListingSort = ListingSort.name
    after: str | None = None  # a cursor from the previous page's ``next_after``


def public_one(session: Session, activity: Activity) -> ActivityPublic:
    """``activity`` (loaded with ``cards.LOAD``) as the API shows it, from the live tables:
    what a write answers with."""
    now = utcnow()
    standing = organisation_standing.for_organisations(session, [activity.organisation_id], now)
    closed = closures.for_activities(session, [activity], uk_today(now))
    return cards.public(
        cards.build(activity, closed[activity.id]),
        activity.capacity,
        standing[activity.organisation_id],
        now,
    )


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Live activities of organisations the public may see; members also see their own
    organisations' activities in any state; stewards and admins see all."""
    return _visible(principal.is_steward_or_admin, principal.member_of or None)


def _visible(everything: bool, member_of: Any) -> ColumnElement[bool]:
    """``visible_to``'s condition; ``member_of``: the caller's organisations (values or a
    bound parameter), or None."""
    if everything:
        return true()
    public = Activity.archived_at.is_(None) & Activity.organisation_id.in_(
        select(Organisation.id).where(organisation_visibility.public())
    )
    if member_of is not None:
        return or_(public, Activity.organisation_id.in_(member_of))
    return public


def list_activities(
    session: Session, principal: Principal, filters: ActivityFilters, params: PageParams
) -> JsonPage:
    """One page in one statement: the filtered, ordered page of ids with their cards,
    capacity and standing, and the count of all matches up to a limit
    (``app.core.pagination.capped_count``). The statement is built once per shape of
    request (``_listing``); the request's values are bound when it runs."""
    # What the public may see is counted once per worker and remembered a while (like the
    # Open Referral lists: app/openreferral/counts.py), so a front end or crawler paging
    # through it does not count a thousand activities per page; members, stewards and
    # admins, who see their own drafts change, are counted afresh every time.
    key = _public_count_key(principal, filters)
    remembered = counts.known(key) if key is not None else None
    everything = principal.is_steward_or_admin
    shape = _ListingShape(
        everything=everything,
        member=bool(principal.member_of) and not everything,
        organisation=filters.organisation_id is not None,
        status=filters.status is not None,
        terms=bool(filters.term_ids),
        venue=filters.venue_id is not None,
        modified_after=filters.modified_after is not None,
        include_archived=filters.include_archived,
        sort=filters.sort,
        after=filters.after is not None,
        counted=remembered is None,
        count_limit=get_settings().exact_count_limit,
    )
    page_statement, count_statement = _listing(shape)
    values: dict[str, Any] = {
        "member_of": list(principal.member_of),
        "organisation_id": filters.organisation_id,
        "status": filters.status,
        "term_ids": list(filters.term_ids),
        "venue_id": filters.venue_id,
        "modified_after": filters.modified_after,
        "offset": params.offset,
        "limit": params.per_page + 1,
        **(after_values(filters.sort, filters.after) if filters.after is not None else {}),
    }
    rows = page_statement.rows(session, values)
    shown, more = rows[: params.per_page], len(rows) > params.per_page
    counted = remembered if remembered is not None else rows[0]["capped_total"] if rows else None
    if key is not None and remembered is None and counted is not None:
        counts.remember(key, counted)
    envelope = page_of(
        cards.public_rows(session, shown, utcnow()),
        params,
        more=more,
        counted=counted,
        count=lambda: session.execute(count_statement, values).scalar_one(),
    )
    if filters.after is not None:  # a page after a cursor: where it stands is not counted
        envelope = envelope.model_copy(update={"first_page": False, "last_page": not more})
    return JsonPage.of(
        ActivityPage, envelope, next_after=cursor_after(filters.sort, shown[-1]) if more else None
    )


@dataclass(frozen=True)
class _ListingShape:
    """What a listing's statement depends on besides its values."""

    everything: bool  # stewards and admins see every activity
    member: bool  # members also see their organisations' activities in any state
    organisation: bool
    status: bool
    terms: bool
    venue: bool
    modified_after: bool
    include_archived: bool
    sort: ListingSort
    after: bool  # a page after a cursor, instead of at an offset
    counted: bool  # the count travels with the page
    count_limit: int


@functools.lru_cache(maxsize=512)
def _listing(shape: _ListingShape) -> tuple[reads.Kept, Select]:
    """A listing's page statement (with cards, and the capped count when ``counted``) and
    its count alone, for ``shape``; built once (a page's statement took about 1.5 ms to
    build and key for the statement cache, a tenth of a page's time: issue #14)."""
    member_of = (
        bindparam("member_of", expanding=True, type_=Activity.organisation_id.type)
        if shape.member
        else None
    )
    statement = select(Activity.id, Activity.name, Activity.created_at, Activity.updated_at).where(
        _visible(shape.everything, member_of)
    )
    if shape.organisation:
        statement = statement.where(
            Activity.organisation_id
            == bindparam("organisation_id", type_=Activity.organisation_id.type)
        )
    if shape.status:
        statement = statement.where(
            Activity.status == bindparam("status", type_=Activity.status.type)
        )
    if shape.terms:
        term_ids = bindparam("term_ids", expanding=True, type_=ActivityTerm.term_id.type)
        tagged = select(ActivityTerm.activity_id).where(ActivityTerm.term_id.in_(term_ids))
        statement = statement.where(Activity.id.in_(tagged))
    if shape.venue:
        venue_id = bindparam("venue_id", type_=ActivityVenue.venue_id.type)
        at_venue = select(ActivityVenue.activity_id).where(ActivityVenue.venue_id == venue_id)
        statement = statement.where(Activity.id.in_(at_venue))
    if shape.modified_after:
        statement = statement.where(
            Activity.updated_at > bindparam("modified_after", type_=Activity.updated_at.type)
        )
    if not shape.include_archived:
        statement = statement.where(Activity.archived_at.is_(None))
    page = statement.order_by(*order_by_clauses(Activity, shape.sort))
    if shape.after:
        page = page.where(after_clause(Activity, shape.sort))
    else:
        page = page.offset(bindparam("offset", type_=Integer))
    page = page.limit(bindparam("limit", type_=Integer))
    in_order = partial(order_by_clauses, sort=shape.sort)  # on the page's own columns
    total = capped_count(statement, shape.count_limit) if shape.counted else None
    return (
        reads.Kept(cards.with_cards(page, "id", in_order, total=total)),
        select(capped_count(statement, shape.count_limit)),
    )


def _public_count_key(principal: Principal, filters: ActivityFilters) -> tuple | None:
    """The key a public listing's total is remembered under; None for callers who see
    more than the public does."""
    if principal.is_steward_or_admin or principal.member_of:
        return None
    return ("v1/activities", replace(filters, sort=ListingSort.name, after=None))


def every_activity(
    session: Session, principal: Principal, filters: ActivityFilters, batch: int = 500
) -> Iterator[list[dict[str, Any]]]:
    """Every match, as the API shows them, a batch at a time (keyset pages: steady while
    listings change, and as fast at the end of the country as at its start)."""
    after = None
    while True:
        page = list_activities(
            session, principal, replace(filters, after=after), PageParams(1, batch)
        )
        yield page.contents
        after = page.envelope.next_after
        if after is None:
            return


def get_public(session: Session, principal: Principal, activity_id: uuid.UUID) -> dict[str, Any]:
    """One activity as the API shows it (JSON), read from its card in one statement; 404
    when it does not exist or the caller may not see it."""
    everything = principal.is_steward_or_admin
    member = bool(principal.member_of) and not everything
    values: dict[str, Any] = {"activity_id": activity_id}
    if member:
        values["member_of"] = list(principal.member_of)
    rows = _one_with_card(everything, member).rows(session, values)
    if not rows:
        raise NotFound(f"No activity with id {activity_id}")
    return cards.public_rows(session, rows[:1], utcnow())[0]


@functools.cache
def _one_with_card(everything: bool, member: bool) -> reads.Kept:
    """``get_public``'s statement, built once for each kind of caller (all, members, the
    public) with the activity and the caller's organisations bound when it runs."""
    member_of = (
        bindparam("member_of", expanding=True, type_=Activity.organisation_id.type)
        if member
        else None
    )
    statement = select(Activity.id).where(
        Activity.id == bindparam("activity_id", type_=Activity.id.type),
        _visible(everything, member_of),
    )
    return reads.Kept(cards.with_cards(statement, "id", lambda _: []))


def confirm_activity(session: Session, activity: Activity) -> Activity:
    """The organisation checked it: unchanged and accurate as of now."""
    if activity.archived_at is not None:
        raise Conflict(f"Activity {activity.id} is archived")
    activity.last_confirmed_at = utcnow()
    session.add(activity)
    session.flush()
    search_index.refresh(session, [activity.id])
    return activity


def get_visible_activity(
    session: Session, principal: Principal, activity_id: uuid.UUID
) -> Activity:
    activity = session.exec(
        select(Activity)
        .where(Activity.id == activity_id, visible_to(principal))
        .options(*cards.LOAD)
    ).first()
    if activity is None:
        raise NotFound(f"No activity with id {activity_id}")
    return activity


def get_activity(session: Session, activity_id: uuid.UUID) -> Activity:
    activity = session.exec(
        select(Activity).where(Activity.id == activity_id).options(*cards.LOAD)
    ).first()
    if activity is None:
        raise NotFound(f"No activity with id {activity_id}")
    return activity


def create_activity(
    session: Session, principal: Principal, data: ActivityCreate, new_id: uuid.UUID | None = None
) -> Activity:
    """``new_id``: the id to give it (an import keeps its source's ids where it can)."""
    organisation = session.get(Organisation, data.organisation_id)
    if organisation is None or not organisation_visibility.is_visible(organisation, principal):
        raise InvalidField("body.organisation_id", "no organisation has this id", "unknown_id")
    if not principal.can_edit_organisation(organisation.id):
        raise Forbidden("Only the organisation's members, stewards and admins add activities")
    if organisation.archived_at is not None:
        raise Conflict(f"Organisation {organisation.id} is archived; it cannot take new activities")
    fields = data.model_dump(exclude={"schedules", "term_ids", "venue_ids", "last_confirmed_at"})
    activity = Activity(
        **fields, id=new_id or uuid.uuid4(), last_confirmed_at=data.last_confirmed_at or utcnow()
    )
    _set_links(session, activity, data.schedules, data.term_ids, data.venue_ids)
    session.add(activity)
    session.flush()
    capacity.create_for(session, activity.id, activity.organisation_id, utcnow())
    search_index.refresh(session, [activity.id])
    return get_activity(session, activity.id)


def update_activity(session: Session, activity: Activity, changes: dict) -> Activity:
    if activity.archived_at is not None:
        raise Conflict(f"Activity {activity.id} is archived and cannot be changed")
    links = {
        key: changes.pop(key) for key in ("schedules", "term_ids", "venue_ids") if key in changes
    }
    validate_merged(ActivityBase, activity, changes)
    schedules = links.get("schedules")
    # One flush for the whole change, so the audit log records it as one entry.
    with session.no_autoflush:
        activity.sqlmodel_update(changes)
        _set_links(
            session,
            activity,
            None if schedules is None else [ScheduleIn.model_validate(s) for s in schedules],
            links.get("term_ids"),
            links.get("venue_ids"),
        )
        activity.updated_at = utcnow()
        session.add(activity)
    session.flush()
    search_index.refresh(session, [activity.id])
    return get_activity(session, activity.id)


def archive_activity(session: Session, activity: Activity) -> Activity:
    if activity.archived_at is None:
        activity.archived_at = activity.updated_at = utcnow()
        session.add(activity)
        session.flush()
        search_index.refresh(session, [activity.id])
    return activity


def archive_for_organisation(session: Session, organisation_id: uuid.UUID, when: datetime) -> None:
    # Object by object (not one UPDATE) so each archive is versioned and audited.
    live = select(Activity).where(
        Activity.organisation_id == organisation_id, Activity.archived_at.is_(None)
    )
    for activity in session.exec(live):
        activity.archived_at = activity.updated_at = when
        session.add(activity)


def _set_links(
    session: Session,
    activity: Activity,
    schedules: list[ScheduleIn] | None,
    term_ids: list[uuid.UUID] | None,
    venue_ids: list[uuid.UUID] | None,
) -> None:
    """Replace whichever of schedules, terms and venues were given."""
    if term_ids is not None:
        activity.terms = vocabulary.load_terms(
            session, term_ids, "body.term_ids", keep=[term.id for term in activity.terms]
        )
    if venue_ids is not None:
        activity.venues = _load_venues(session, venue_ids)
    linked = {venue.id for venue in activity.venues}
    if schedules is not None:
        for index, schedule in enumerate(schedules):
            if schedule.venue_id is not None and schedule.venue_id not in linked:
                raise InvalidField(
                    f"body.schedules.{index}.venue_id",
                    "must be one of the activity's venues",
                    "unknown_id",
                )
        activity.schedules = [Schedule(**schedule.model_dump()) for schedule in schedules]
    elif venue_ids is not None and any(
        s.venue_id is not None and s.venue_id not in linked for s in activity.schedules
    ):
        raise InvalidField(
            "body.venue_ids", "a schedule still runs at a venue this would remove", "in_use"
        )


def _load_venues(session: Session, venue_ids: list[uuid.UUID]) -> list[Venue]:
    wanted = list(dict.fromkeys(venue_ids))
    if not wanted:
        return []
    found = {venue.id: venue for venue in session.exec(select(Venue).where(Venue.id.in_(wanted)))}
    missing = [str(venue_id) for venue_id in wanted if venue_id not in found]
    if missing:
        raise InvalidField(
            "body.venue_ids", f"unknown venue id(s): {', '.join(missing)}", "unknown_id"
        )
    archived = [str(venue_id) for venue_id in wanted if found[venue_id].archived_at is not None]
    if archived:
        raise InvalidField(
            "body.venue_ids", f"archived venue(s): {', '.join(archived)}", "archived"
        )
    return [found[venue_id] for venue_id in wanted]
