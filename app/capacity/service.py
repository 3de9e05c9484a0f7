"""Capacity: the organisation's settings, and the atomic changes referrals make to it.

Referrals change capacity with conditional UPDATEs (``UPDATE … WHERE <still allowed>
RETURNING …``): the database decides, row by row, whether a place or a slot under the
weekly cap is still there, so concurrent link workers and providers can never overbook
(PostgreSQL re-checks the condition against the newest row after waiting for its lock;
SQLite runs one writer at a time). A CHECK constraint refuses negative places as a last
line of defence. Every change, by a person or a referral, adds a ``capacity_change`` row.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import case, null, or_, select, update
from sqlmodel import Session
from sqlmodel import select as select_model

from app.capacity.models import (
    ActivityCapacity,
    CapacityBase,
    CapacityChange,
    CapacityChangeCause,
    CapacityStatus,
)
from app.capacity.rules import effective, effective_sql, week_starting
from app.capacity.schemas import CapacityChangePublic, CapacityPublic, CapacitySummary
from app.core.errors import Conflict, InvalidField, NotFound
from app.core.pagination import Page, PageParams, paginate
from app.core.schemas import as_json
from app.core.validation import field_values, validate_merged
from app.notifications.events import EventType, emit
from app.search.models import ActivityFacet, ActivityPlace, capacity_copy

_table = ActivityCapacity.__table__
_c = _table.c


def create_for(session: Session, activity_id: uuid.UUID, organisation_id: uuid.UUID, now: datetime):
    capacity = ActivityCapacity(
        activity_id=activity_id, organisation_id=organisation_id, updated_at=now
    )
    session.add(capacity)
    _record(session, capacity, CapacityChangeCause.created, now)
    return capacity


def get_capacity(session: Session, activity_id: uuid.UUID) -> ActivityCapacity:
    capacity = session.get(ActivityCapacity, activity_id)
    if capacity is None:
        raise NotFound(f"No capacity for activity {activity_id}")
    return capacity


def to_public(capacity: ActivityCapacity, now: datetime) -> CapacityPublic:
    state = effective(capacity, now)
    this_week = week_starting(now)
    return CapacityPublic.model_validate(
        {
            **field_values(capacity, CapacityBase),
            "activity_id": capacity.activity_id,
            "status": state.status,
            "status_reason": state.reason,
            "declared_status": capacity.status,
            "accepting_referrals": state.accepting_referrals,
            "referrals_this_week": capacity.referrals_this_week
            if capacity.week_starting == this_week
            else 0,
            "week_starting": this_week,
            "updated": capacity.updated_at,
            "version": capacity.version,
        }
    )


def summarise(capacity: Any, now: datetime) -> CapacitySummary:
    return CapacitySummary(**_summary(capacity, now))


def summary_json(capacity: Any, now: datetime) -> dict[str, Any]:
    """``summarise(...)`` as JSON, for pages of many."""
    return as_json(CapacitySummary, **_summary(capacity, now))


def _summary(capacity: Any, now: datetime) -> dict[str, Any]:
    state = effective(capacity, now)
    return {
        "status": state.status,
        "status_reason": state.reason,
        "unit": capacity.unit,
        "available": capacity.available,
        "maximum": capacity.maximum,
        "waiting_list_length": capacity.waiting_list_length,
        "paused_until": capacity.paused_until if state.status is CapacityStatus.paused else None,
        "updated": capacity.updated_at,
    }


def update_capacity(
    session: Session, capacity: ActivityCapacity, changes: dict[str, Any], now: datetime
) -> ActivityCapacity:
    """An editor's change. Leaving ``paused`` clears the pause; giving a ``maximum`` to an
    activity that did not count places starts with them all free."""
    if changes.get("status", CapacityStatus.paused) != CapacityStatus.paused:
        changes.setdefault("paused_until", None)
        changes.setdefault("pause_reason", None)
    if (
        changes.get("maximum") is not None
        and capacity.available is None
        and "available" not in changes
    ):
        changes["available"] = changes["maximum"]
    merged = validate_merged(CapacityBase, capacity, changes)
    if "paused_until" in changes and merged.paused_until and merged.paused_until <= now:
        raise InvalidField("body.paused_until", "must be in the future", "in_the_past")
    capacity.sqlmodel_update({name: getattr(merged, name) for name in changes})
    capacity.updated_at = now
    session.add(capacity)
    session.flush()
    _record(session, capacity, CapacityChangeCause.updated, now)
    return capacity


def take_referral(session: Session, activity_id: uuid.UUID, now: datetime) -> CapacityStatus:
    """Count a new referral: ``open`` when it goes to the provider (and counts towards the
    weekly cap), ``waitlist`` when it joins the waiting list; 409 when neither is allowed."""
    week = week_starting(now)
    counted = _update(
        session,
        activity_id,
        effective_sql(_c, now) == CapacityStatus.open.value,
        {
            "referrals_this_week": case(
                (_c.week_starting == week, _c.referrals_this_week + 1), else_=1
            ),
            "week_starting": week,
        },
        CapacityChangeCause.referral_received,
        now,
    )
    if counted is not None:
        return CapacityStatus.open
    waitlisted = _update(
        session,
        activity_id,
        effective_sql(_c, now) == CapacityStatus.waitlist.value,
        {"waiting_list_length": _c.waiting_list_length + 1},
        CapacityChangeCause.waitlisted,
        now,
    )
    if waitlisted is not None:
        return CapacityStatus.waitlist
    current = session.execute(select(_table).where(_c.activity_id == activity_id)).first()
    reason = effective(current, now).reason if current else "it has no capacity record"
    raise Conflict(f"Activity {activity_id} is not taking referrals: {reason}")


def apply_referral_change(
    session: Session,
    activity_id: uuid.UUID,
    now: datetime,
    *,
    take_place: bool = False,
    release_place: bool = False,
    waitlist_delta: int = 0,
) -> None:
    """Take or give back a place and move the waiting list, in one conditional UPDATE."""
    values: dict[str, Any] = {}
    condition = None
    if take_place:
        values["available"] = case((_c.available.is_(None), null()), else_=_c.available - 1)
        condition = or_(_c.available.is_(None), _c.available > 0)
        cause = CapacityChangeCause.place_taken
    elif release_place:
        values["available"] = case(
            (_c.available.is_(None), null()),
            (_c.available >= _c.maximum, _c.available),
            else_=_c.available + 1,
        )
        cause = CapacityChangeCause.place_released
    else:
        cause = (
            CapacityChangeCause.waitlisted
            if waitlist_delta > 0
            else (CapacityChangeCause.left_waitlist)
        )
    if waitlist_delta:
        values["waiting_list_length"] = case(
            (_c.waiting_list_length + waitlist_delta < 0, 0),
            else_=_c.waiting_list_length + waitlist_delta,
        )
    if not values:
        return
    if _update(session, activity_id, condition, values, cause, now) is None:
        raise Conflict(
            f"Activity {activity_id} has no places left; waitlist the referral, or free a "
            "place (or raise `available`) first"
        )


def end_elapsed_pauses(session: Session, now: datetime) -> int:
    """Record pauses that ended by themselves (they already read as open)."""
    # In key order: each change locks the capacity row, then its search rows, and another
    # transaction rebuilding several activities' search rows locks them in key order too.
    elapsed = session.execute(
        select(_c.activity_id, _c.paused_until)
        .where(_c.status == CapacityStatus.paused.value, _c.paused_until <= now)
        .order_by(_c.activity_id)
    ).all()
    for activity_id, paused_until in elapsed:
        _update(
            session,
            activity_id,
            (_c.status == CapacityStatus.paused.value) & (_c.paused_until <= now),
            {"status": CapacityStatus.open, "paused_until": None, "pause_reason": None},
            CapacityChangeCause.pause_ended,
            paused_until,
        )
    return len(elapsed)


def list_history(
    session: Session,
    activity_id: uuid.UUID,
    params: PageParams,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[CapacityChangePublic]:
    statement = select_model(CapacityChange).where(CapacityChange.activity_id == activity_id)
    if since is not None:
        statement = statement.where(CapacityChange.recorded_at >= since)
    if until is not None:
        statement = statement.where(CapacityChange.recorded_at < until)
    statement = statement.order_by(CapacityChange.recorded_at.desc(), CapacityChange.id)
    return paginate(session, statement, params, CapacityChangePublic.model_validate)


def _update(session, activity_id, condition, values, cause, now):
    statement = update(_table).where(_c.activity_id == activity_id)
    if condition is not None:
        statement = statement.where(condition)
    statement = statement.values(**values, version=_c.version + 1, updated_at=now).returning(*_c)
    row = session.execute(statement).first()
    if row is not None:
        loaded = session.identity_map.get(session.identity_key(ActivityCapacity, activity_id))
        if loaded is not None:
            session.expire(loaded)
        _record(session, row, cause, now)
    return row


def _record(session: Session, source: Any, cause: CapacityChangeCause, now: datetime) -> None:
    _copy_to_search(session, source)
    status = effective(source, now).status
    emit(
        session,
        EventType.capacity_changed,
        organisation_id=source.organisation_id,
        subject_id=source.activity_id,
        activity_id=source.activity_id,
        cause=cause,
        status=status,
        available=source.available,
        maximum=source.maximum,
        waiting_list_length=source.waiting_list_length,
        paused_until=source.paused_until,
    )
    session.add(
        CapacityChange(
            activity_id=source.activity_id,
            organisation_id=source.organisation_id,
            recorded_at=now,
            cause=cause,
            status=status,
            maximum=source.maximum,
            available=source.available,
            waiting_list_length=source.waiting_list_length,
            weekly_referral_cap=source.weekly_referral_cap,
            referrals_this_week=source.referrals_this_week,
            pause_reason=source.pause_reason,
            paused_until=source.paused_until,
        )
    )


def _copy_to_search(session: Session, source: Any) -> None:
    """The search rows' copy of what the capacity rule reads (``SearchFacets.capacity_*``):
    the activity's facet row, then its place rows, after the capacity row: the order every
    write that changes more than one of them takes them in (app/search/indexing.py)."""
    values = capacity_copy(source)
    for rows in (ActivityFacet, ActivityPlace):
        session.execute(
            update(rows)
            .where(rows.activity_id == source.activity_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
