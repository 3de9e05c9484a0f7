"""The effective capacity status: what link workers see and what referrals obey.

The organisation's declared status is refined, in this order:

1. ``closed`` declared → closed.
2. ``paused`` declared and ``paused_until`` not yet reached (or unset) → paused. A pause
   ends by itself: once ``paused_until`` has passed, the activity reads as open again
   (``signpost referrals-sweep`` later records that in the history).
3. No places left (``available`` = 0) or the weekly referral cap reached this week →
   ``waitlist``, or ``closed`` when the organisation chose ``when_full=refuse``.
4. ``waitlist`` declared → waitlist.
5. Otherwise open.

The rule is written twice, in Python (for one activity in hand) and in SQL (for search
filters and for the conditional UPDATEs that take referrals); tests check they agree.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, or_

from app.capacity.models import CapacityStatus, WhenFull

UK = ZoneInfo("Europe/London")
ACCEPTING = (CapacityStatus.open, CapacityStatus.waitlist)


def week_starting(now: datetime) -> date:
    """The Monday (UK time) of the week ``now`` falls in."""
    local = now.astimezone(UK).date()
    return local - timedelta(days=local.weekday())


@dataclass(frozen=True)
class Effective:
    status: CapacityStatus
    reason: str | None = None

    @property
    def accepting_referrals(self) -> bool:
        return self.status in ACCEPTING


def cap_reached(capacity: Any, now: datetime) -> bool:
    return (
        capacity.weekly_referral_cap is not None
        and capacity.week_starting == week_starting(now)
        and capacity.referrals_this_week >= capacity.weekly_referral_cap
    )


def effective(capacity: Any, now: datetime) -> Effective:
    """``capacity``: an ActivityCapacity or a row with its columns."""
    status = CapacityStatus(capacity.status)
    if status is CapacityStatus.closed:
        return Effective(status, "closed to new referrals by the organisation")
    if status is CapacityStatus.paused and (
        capacity.paused_until is None or capacity.paused_until > now
    ):
        until = (
            f" until {capacity.paused_until.astimezone(UK):%d %B %Y %H:%M}"
            if capacity.paused_until
            else ""
        )
        reason = str(capacity.pause_reason).replace("_", " ")
        return Effective(status, f"paused ({reason}){until}")
    full = capacity.available == 0
    if full or cap_reached(capacity, now):
        if full:
            why = "no places left"
        else:
            next_week = week_starting(now) + timedelta(days=7)
            why = (
                f"weekly referral cap of {capacity.weekly_referral_cap} reached "
                f"until {next_week:%A %d %B}"
            )
        if WhenFull(capacity.when_full) is WhenFull.refuse:
            return Effective(CapacityStatus.closed, f"{why}; new referrals are refused")
        return Effective(CapacityStatus.waitlist, f"{why}; new referrals join the waiting list")
    if status is CapacityStatus.waitlist:
        return Effective(status, "new referrals join the waiting list")
    return Effective(CapacityStatus.open)


def effective_sql(capacity: Any, now: Any, week: Any = None) -> ColumnElement[str]:
    """The same rule as a SQL expression over ``capacity``'s columns (a mapped class or a
    table). With no capacity row (an outer join), every column is null: open. ``now`` is a
    datetime, or a bound parameter with ``week`` (``week_starting`` of it) bound beside it
    in a statement kept for reuse."""
    full = capacity.available == 0
    capped = and_(
        capacity.weekly_referral_cap.is_not(None),
        capacity.week_starting == (week_starting(now) if week is None else week),
        capacity.referrals_this_week >= capacity.weekly_referral_cap,
    )
    return case(
        (capacity.status == CapacityStatus.closed.value, CapacityStatus.closed.value),
        (
            and_(
                capacity.status == CapacityStatus.paused.value,
                or_(capacity.paused_until.is_(None), capacity.paused_until > now),
            ),
            CapacityStatus.paused.value,
        ),
        (
            or_(full, capped),
            case(
                (capacity.when_full == WhenFull.refuse.value, CapacityStatus.closed.value),
                else_=CapacityStatus.waitlist.value,
            ),
        ),
        (capacity.status == CapacityStatus.waitlist.value, CapacityStatus.waitlist.value),
        else_=CapacityStatus.open.value,
    )
