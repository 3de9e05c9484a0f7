"""When does an activity next meet? RFC 5545-style schedules (the subset HSDS uses:
WEEKLY with BYDAY, MONTHLY with ordinal BYDAY, INTERVAL, valid_from/valid_to), read in
UK local time, less the days it does not meet (``Closed``): its own and its organisation's
closures, the bank holidays of England and Wales unless it runs on them, and a pause."""

import calendar
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.activities.models import Frequency, Schedule
from app.core.types import utcnow
from app.search import bank_holidays

UK = ZoneInfo("Europe/London")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
DASH = "\N{EN DASH}"
HORIZON_DAYS = 400  # look a little over a year ahead, enough for any monthly pattern


@dataclass(frozen=True)
class CardSchedule:
    """A schedule as an activity card stores it (JSON), read back for ``next_session``.
    Equal (and hashed alike) when they meet alike, wherever: many activities share a
    pattern ("Tuesdays 10:00 to 12:00"), so working out when one meets serves them all."""

    freq: str
    interval: int
    byday: str
    opens_at: time
    closes_at: time
    valid_from: date | None
    valid_to: date | None
    venue_id: str | None = field(compare=False)

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


def uk_today(now: datetime | None = None) -> date:
    """Today's date in the UK (``now``, or Signpost's clock's)."""
    return (now or utcnow()).astimezone(UK).date()


def bank_holiday(day: date) -> str | None:
    """The bank holiday's name (England and Wales), or None on any other day."""
    return bank_holidays.of_year(day.year).get(day)


@functools.lru_cache(maxsize=8)
def bank_holidays_between(first: date, days: int) -> tuple[tuple[date, str], ...]:
    """The bank holidays of the ``days`` days from ``first``, in date order: a handful,
    worked out once per day for every result of every search."""
    found = (
        (first + timedelta(days=n), bank_holiday(first + timedelta(days=n))) for n in range(days)
    )
    return tuple((day, name) for day, name in found if name)


@dataclass(frozen=True)
class Closure:
    """Days without sessions: ``kind`` is closure, bank_holiday or pause; a pause with no
    end (``ends_on`` None) lasts until the organisation lifts it."""

    kind: str
    starts_on: date
    ends_on: date | None
    reason: str

    def covers(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

    def summary(self, today: date) -> str:
        """E.g. "No session 24 Dec to 2 Jan (Closed for Christmas)", with an en dash."""

        def spoken(day: date) -> str:
            return f"{day.day} {day:%b}" + (f" {day.year}" if day.year != today.year else "")

        why = f" ({self.reason})" if self.reason else ""
        if self.kind == "pause":
            until = f"until {spoken(self.ends_on)}" if self.ends_on else "until further notice"
            return f"Paused {until}{why}"
        if self.ends_on == self.starts_on:
            return f"No session on {spoken(self.starts_on)}{why}"
        return f"No session {spoken(self.starts_on)} {DASH} {spoken(self.ends_on)}{why}"


@dataclass(frozen=True)
class Closed:
    """What keeps an activity from meeting: its closures (its own and its organisation's),
    bank holidays unless ``bank_holidays_run``, and a pause until ``paused_until`` (an
    instant; None with ``paused`` set: until lifted)."""

    closures: tuple[Closure, ...] = ()
    bank_holidays_run: bool = False
    paused: bool = False
    paused_until: datetime | None = None
    pause_reason: str = ""

    @classmethod
    def of(cls, card: Mapping[str, Any], capacity: Any, now: datetime) -> "Closed":
        """From an activity card (its ``closures`` and ``runs_on_bank_holidays``) and its
        capacity row (``status``, ``paused_until``, ``pause_reason``; None when it has
        none), as of ``now``."""
        today = uk_today(now)
        closures = tuple(
            Closure("closure", date.fromisoformat(c["starts_on"]), end, c["reason"] or "closed")
            for c in card.get("closures", ())
            if (end := date.fromisoformat(c["ends_on"])) >= today
        )
        status = getattr(capacity, "status", None)
        until = getattr(capacity, "paused_until", None)
        paused = str(status) == "paused" and (until is None or until > now)
        reason = getattr(capacity, "pause_reason", None)
        return cls(
            closures=closures,
            bank_holidays_run=bool(card.get("runs_on_bank_holidays")),
            paused=paused,
            paused_until=until if paused else None,
            pause_reason=str(reason).replace("_", " ") if paused and reason else "",
        )

    def blocks(self, day: date) -> bool:
        if not self.bank_holidays_run and bank_holiday(day):
            return True
        return any(closure.covers(day) for closure in self.closures)

    def notices(self, schedules: Iterable[Schedule], today: date, weeks: int = 8) -> list[Closure]:
        """What a link worker should be told, in date order: the pause, every closure not
        yet over, and the bank holidays of the next ``weeks`` that fall on a day it would
        otherwise meet."""
        found = []
        if self.paused:
            end = self.paused_until.astimezone(UK).date() if self.paused_until else None
            found.append(Closure("pause", today, end, self.pause_reason))
        found += self.closures
        if not self.bank_holidays_run:
            schedules = list(schedules)
            found += [
                Closure("bank_holiday", day, day, name)
                for day, name in bank_holidays_between(today, weeks * 7)
                if any(runs_on(s, day) for s in schedules)
            ]
        return sorted(found, key=lambda c: (c.starts_on, c.kind))


OPEN = Closed(bank_holidays_run=True)


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
    closed: Closed = OPEN,
) -> Session | None:
    """The first session starting after ``after`` (optionally only on ``weekdays`` and
    inside the ``window`` of times) on a day it is not ``closed``, or None when nothing is
    scheduled within a year (or it is paused until further notice)."""
    if closed.paused and closed.paused_until is None:
        return None
    if closed.paused_until is not None:
        after = max(after, closed.paused_until)
    schedules = tuple(schedules)
    local_now = after.astimezone(UK)
    plan = _sessions_from if _all_cards(schedules) else _sessions_from.__wrapped__
    for starts, ends, index in plan(
        schedules, local_now.date(), frozenset(weekdays or ()), window, closed
    ):
        if starts > local_now:
            return Session(starts, ends, schedules[index])
    return None


def _all_cards(schedules: tuple) -> bool:
    """Immutable schedules only (an ORM ``Schedule`` can change under a cached answer)."""
    return all(type(s) is CardSchedule for s in schedules)


@functools.lru_cache(maxsize=4096)
def _sessions_from(
    schedules: tuple[Schedule, ...],
    day: date,
    weekdays: frozenset[str],
    window: tuple[time | None, time | None],
    closed: Closed,
) -> tuple[tuple[datetime, datetime, int], ...]:
    """Every session on ``day`` in time order, then the first of the first later day that
    has one (within the horizon): the next session from any moment of ``day`` is the first
    of these still to start. Each is (starts, ends, index into ``schedules``). Worked out
    once a day for each pattern of schedules and closures, not for every result."""
    earliest, latest = window
    usable = [
        (index, s)
        for index, s in enumerate(schedules)
        if (earliest is None or s.opens_at >= earliest)
        and (latest is None or s.closes_at <= latest)
    ]
    found: list[tuple[datetime, datetime, int]] = []
    for offset in range(HORIZON_DAYS if usable else 0):
        on = day + timedelta(days=offset)
        if weekdays and WEEKDAYS[on.weekday()] not in weekdays:
            continue
        if closed.blocks(on):
            continue
        sessions = sorted(  # stable: equal starts keep the schedules' order
            (
                (datetime.combine(on, s.opens_at, UK), datetime.combine(on, s.closes_at, UK), i)
                for i, s in usable
                if runs_on(s, on)
            ),
            key=lambda session: session[0],
        )
        if offset == 0:
            found += sessions
        elif sessions:
            found.append(sessions[0])
            break
    return tuple(found)


def notices(closed: Closed, schedules: Iterable[Schedule], now: datetime) -> list[dict[str, Any]]:
    """``closed.notices`` as the API shows them (``ClosureNotice``, as JSON)."""
    schedules = tuple(schedules)
    today = uk_today(now)
    found = _notices if _all_cards(schedules) else _notices.__wrapped__
    return [dict(notice) for notice in found(closed, schedules, today)]


@functools.lru_cache(maxsize=4096)
def _notices(closed: Closed, schedules: tuple[Schedule, ...], today: date) -> tuple[dict, ...]:
    return tuple(
        {
            "kind": c.kind,
            "starts_on": c.starts_on.isoformat(),
            "ends_on": c.ends_on.isoformat() if c.ends_on else None,
            "reason": c.reason,
            "summary": c.summary(today),
        }
        for c in closed.notices(schedules, today)
    )
