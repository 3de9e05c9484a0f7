"""The bank holidays of England and Wales (Scotland and Northern Ireland differ), which
sessions skip.

Read from a table shipped with the code (``data/bank-holidays-england-and-wales.json``,
generated from the ``holidays`` library for the years around now), so a worker does not
load that library (17 MB of every country's rules) to answer a search. A year outside the
table is asked of the library itself. Regenerate the table after upgrading the library or
when the government announces a one-off holiday (a coronation, a state funeral):

    .venv/bin/python -m app.search.bank_holidays

``tests/test_schedule.py`` fails when the table and the library disagree, or when the
table no longer reaches five years ahead.
"""

import functools
import json
from datetime import date
from pathlib import Path

TABLE = Path(__file__).parent / "data" / "bank-holidays-england-and-wales.json"
FIRST_YEAR, LAST_YEAR = 2020, 2040


@functools.cache
def _table() -> dict[int, dict[date, str]]:
    found: dict[int, dict[date, str]] = {}
    for day, name in json.loads(TABLE.read_text(encoding="utf-8")).items():
        when = date.fromisoformat(day)
        found.setdefault(when.year, {})[when] = name
    return found


def from_library(year: int) -> dict[date, str]:
    import holidays  # only for a year the table does not hold

    return dict(holidays.country_holidays("GB", subdiv="ENG", years=year))


@functools.cache
def of_year(year: int) -> dict[date, str]:
    """The year's bank holidays by date, with their names."""
    if FIRST_YEAR <= year <= LAST_YEAR:
        return _table().get(year, {})
    return from_library(year)


def write_table() -> None:
    days = {
        day.isoformat(): name
        for year in range(FIRST_YEAR, LAST_YEAR + 1)
        for day, name in sorted(from_library(year).items())
    }
    TABLE.write_text(json.dumps(days, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_table()
    print(f"wrote {TABLE} ({FIRST_YEAR}-{LAST_YEAR})")
