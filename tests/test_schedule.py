from datetime import UTC, date, datetime, time

from app.activities.models import Frequency, Schedule
from app.search.schedule import (
    UK,
    CardSchedule,
    Closed,
    Closure,
    next_session,
    notices,
    runs_on,
)


def schedule(freq="WEEKLY", byday="TU", opens="10:00", closes="12:00", **extra) -> Schedule:
    return Schedule(
        freq=Frequency(freq),
        byday=byday,
        opens_at=time.fromisoformat(opens),
        closes_at=time.fromisoformat(closes),
        **extra,
    )


# Wednesday 25 November 2026, 12:00 UTC (GMT, so also 12:00 in the UK).
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_weekly_next_session_is_the_coming_weekday():
    found = next_session([schedule(byday="TU,TH")], NOW)
    assert found.starts_at == datetime(2026, 11, 26, 10, 0, tzinfo=UK)
    assert found.ends_at == datetime(2026, 11, 26, 12, 0, tzinfo=UK)


def test_a_session_later_today_counts_but_one_already_started_does_not():
    assert next_session([schedule(byday="WE", opens="18:00", closes="19:00")], NOW).starts_at == (
        datetime(2026, 11, 25, 18, 0, tzinfo=UK)
    )
    assert next_session([schedule(byday="WE", opens="11:00")], NOW).starts_at == datetime(
        2026, 12, 2, 11, 0, tzinfo=UK
    )


def test_monthly_first_and_last_weekdays():
    first_tuesday = next_session([schedule("MONTHLY", "1TU")], NOW)
    assert first_tuesday.starts_at.date() == date(2026, 12, 1)
    last_friday = next_session([schedule("MONTHLY", "-1FR")], NOW)
    assert last_friday.starts_at.date() == date(2026, 11, 27)
    second_wednesday = next_session([schedule("MONTHLY", "2WE")], NOW)
    assert second_wednesday.starts_at.date() == date(2026, 12, 9)


def test_valid_from_and_valid_to_bound_the_sessions():
    ended = schedule(byday="MO", valid_to=date(2026, 11, 20))
    assert next_session([ended], NOW) is None
    later = schedule(byday="MO", valid_from=date(2027, 1, 4))
    assert next_session([later], NOW).starts_at.date() == date(2027, 1, 4)
    assert not runs_on(later, date(2026, 11, 30))


def test_fortnightly_counts_from_valid_from():
    fortnightly = schedule(byday="MO", interval=2, valid_from=date(2026, 11, 23))
    assert runs_on(fortnightly, date(2026, 11, 23))
    assert not runs_on(fortnightly, date(2026, 11, 30))
    assert next_session([fortnightly], NOW).starts_at.date() == date(2026, 12, 7)


def test_earliest_of_several_schedules_and_day_and_time_filters():
    morning = schedule(byday="FR", opens="09:00", closes="10:00")
    evening = schedule(byday="TH", opens="19:00", closes="21:00")
    assert next_session([morning, evening], NOW).schedule is evening
    assert next_session([morning, evening], NOW, weekdays={"FR"}).schedule is morning
    window = (time(8, 0), time(12, 0))
    assert next_session([morning, evening], NOW, window=window).schedule is morning
    assert next_session([evening], NOW, window=window) is None


def test_summer_sessions_carry_the_bst_offset():
    found = next_session([schedule(byday="MO")], datetime(2026, 6, 1, 6, 0, tzinfo=UTC))
    assert found.starts_at.isoformat() == "2026-06-01T10:00:00+01:00"


def test_the_shipped_bank_holiday_table_is_the_librarys():
    """app/search/bank_holidays.py ships England and Wales's bank holidays as a table (so
    workers need not load the holidays library); it must say what the library says, and
    reach at least five years ahead (regenerate: python -m app.search.bank_holidays)."""
    from app.search import bank_holidays

    for year in range(bank_holidays.FIRST_YEAR, bank_holidays.LAST_YEAR + 1):
        assert bank_holidays.of_year(year) == bank_holidays.from_library(year), year
    assert date.today().year + 5 <= bank_holidays.LAST_YEAR
    assert bank_holidays.of_year(2023)[date(2023, 5, 8)] == "Coronation of Charles III"


def test_a_year_beyond_the_table_is_asked_of_the_library():
    from app.search import bank_holidays

    year = bank_holidays.LAST_YEAR + 1
    assert bank_holidays.of_year(year) == bank_holidays.from_library(year)
    assert date(year, 12, 25) in bank_holidays.of_year(year)


def card(byday="TU", opens="10:00", closes="12:00", venue_id=None, **extra) -> CardSchedule:
    """A schedule as a search result's card holds it: these answers are remembered per
    pattern and day, shared by every activity that meets alike."""
    return CardSchedule.from_card(
        {
            "freq": extra.pop("freq", "WEEKLY"),
            "interval": extra.pop("interval", 1),
            "byday": byday,
            "opens_at": opens,
            "closes_at": closes,
            "valid_from": extra.pop("valid_from", None),
            "valid_to": extra.pop("valid_to", None),
            "venue_id": venue_id,
        }
    )


def test_a_remembered_day_answers_every_moment_of_it():
    morning, evening = card("WE", "11:00", "12:00"), card("WE", "18:00", "19:00")
    at = [datetime(2026, 11, 25, h, 0, tzinfo=UTC) for h in (10, 12, 19)]
    starts = [next_session([morning, evening], moment).starts_at for moment in at]
    assert starts == [
        datetime(2026, 11, 25, 11, 0, tzinfo=UK),
        datetime(2026, 11, 25, 18, 0, tzinfo=UK),
        datetime(2026, 12, 2, 11, 0, tzinfo=UK),
    ]
    assert next_session([morning, evening], at[1], weekdays={"TH"}) is None
    assert next_session([evening], at[0], window=(time(9, 0), time(13, 0))) is None


def test_activities_meeting_alike_each_get_their_own_venue():
    here, there = card(venue_id="venue-here"), card(venue_id="venue-there")
    assert here == there  # one pattern, worked out once
    assert next_session([here], NOW).schedule.venue_id == "venue-here"
    assert next_session([there], NOW).schedule.venue_id == "venue-there"


def test_closures_and_pauses_are_part_of_what_is_remembered():
    weekly = card("FR")
    closed = Closed(closures=(Closure("closure", date(2026, 11, 27), date(2026, 11, 27), "x"),))
    assert next_session([weekly], NOW).starts_at.date() == date(2026, 11, 27)
    assert next_session([weekly], NOW, closed=closed).starts_at.date() == date(2026, 12, 4)
    paused = Closed(paused=True, paused_until=datetime(2026, 12, 5, tzinfo=UTC))
    assert next_session([weekly], NOW, closed=paused).starts_at.date() == date(2026, 12, 11)
    assert next_session([weekly], NOW, closed=Closed(paused=True)) is None
    assert [n["kind"] for n in notices(closed, [weekly], NOW)] == [
        "closure",
        "bank_holiday",  # Christmas Day
        "bank_holiday",  # New Year's Day
    ]
    assert [n["kind"] for n in notices(Closed(), [weekly], NOW)] == ["bank_holiday"] * 2
