"""When does an activity next meet? RFC 5545-style schedules (the subset HSDS uses:
WEEKLY with BYDAY, MONTHLY with ordinal BYDAY, INTERVAL, valid_from/valid_to), read in
UK local time."""

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.activities.models import Frequency, Schedule

UK = ZoneInfo("Europe/London")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
HORIZON_DAYS = 400  # look a little over a year ahead, enough for any monthly pattern


@dataclass(frozen=True)
class CardSchedule:
    """A schedule as an activity card stores it (JSON), read back for ``next_session``."""

    freq: str
    interval: int
    byday: str
    opens_at: time
    closes_at: time
    valid_from: date | None
    valid_to: date | None
    venue_id: str | None

    @classmethod
    def from_card(cls, data: dict) -> "CardSchedule":
        return cls(
            freq=data["freq"],
            interval=data["interval"],
            byday=data["byday"],
            opens_at=time.fromisoformat(data["opens_at"]),
            closes_at=time.fromisoformat(data["closes_at"]),
            valid_from=date.fromisoformat(data["valid_from"]) if data["valid_from"] else None,
            valid_to=date.fromisoformat(data["valid_to"]) if data["valid_to"] else None,
            venue_id=data["venue_id"],
        )


@dataclass(frozen=True)
class Session:
    starts_at: datetime
    ends_at: datetime
    schedule: Schedule


def runs_on(schedule: Schedule, day: date) -> bool:
    if schedule.valid_from and day < schedule.valid_from:
        return False
    if schedule.valid_to and day > schedule.valid_to:
        return False
    code = WEEKDAYS[day.weekday()]
    tokens = schedule.byday.split(",")
    if schedule.freq == Frequency.weekly:
        if code not in tokens:
            return False
        # Every N weeks counts from valid_from's week; without an anchor, every week.
        if schedule.interval > 1 and schedule.valid_from:
            weeks = (day - schedule.valid_from).days // 7
            return weeks % schedule.interval == 0
        return True
    if schedule.interval > 1 and schedule.valid_from:
        months = (day.year - schedule.valid_from.year) * 12 + day.month - schedule.valid_from.month
        if months % schedule.interval:
            return False
    return any(_is_nth_weekday(day, token) for token in tokens if token.endswith(code))


def _is_nth_weekday(day: date, token: str) -> bool:
    """True when ``day`` is the month's ``token`` weekday: "1TU" first, "-1FR" last."""
    ordinal = int(token[:-2])
    if ordinal > 0:
        return (day.day - 1) // 7 + 1 == ordinal
    days_in_month = calendar.monthrange(day.year, day.month)[1]
    return (days_in_month - day.day) // 7 + 1 == -ordinal


def next_session(
    schedules: Iterable[Schedule],
    after: datetime,
    weekdays: set[str] | None = None,
    window: tuple[time | None, time | None] = (None, None),
) -> Session | None:
    """The first session starting after ``after`` (optionally only on ``weekdays`` and
    inside the ``window`` of times), or None when nothing is scheduled within a year."""
    earliest, latest = window
    usable = [
        s
        for s in schedules
        if (earliest is None or s.opens_at >= earliest)
        and (latest is None or s.closes_at <= latest)
    ]
    if not usable:
        return None
    local_now = after.astimezone(UK)
    for offset in range(HORIZON_DAYS):
        day = local_now.date() + timedelta(days=offset)
        if weekdays and WEEKDAYS[day.weekday()] not in weekdays:
            continue
        starts = [
            (datetime.combine(day, s.opens_at, UK), s)
            for s in usable
            if runs_on(s, day) and datetime.combine(day, s.opens_at, UK) > local_now
        ]
        if starts:
            start, schedule = min(starts, key=lambda pair: pair[0])
            return Session(start, datetime.combine(day, schedule.closes_at, UK), schedule)
    return None
