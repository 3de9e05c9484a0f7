"""Activities as a spreadsheet: one row per activity with its organisation, venues,
schedule summary and terms. ``GET /v1/activities`` answers it as ``text/csv`` (through the
one safe CSV writer); ``signpost import-csv`` reads the same columns back.

Cells that hold several values separate them with "; " (venues in the same order in each
venue column). A schedule is ``FREQ[/INTERVAL] BYDAY HH:MM-HH:MM``, e.g. ``WEEKLY TU
10:00-12:00`` or ``MONTHLY/2 1TU 14:00-16:00``; a term is ``scheme:code``, e.g.
``activity-category:music-and-singing``.
"""

import re
from collections.abc import Iterator
from typing import Any

SEPARATOR = "; "
# Activity fields a row carries as they are (text, or one value).
PLAIN = [
    "description",
    "status",
    "cost_type",
    "cost_amount",
    "cost_description",
    "concessions",
    "minimum_age",
    "maximum_age",
    "eligibility_description",
    "suits",
    "does_not_suit",
    "funding_source",
    "url",
    "email",
    "phone",
    "runs_on_bank_holidays",
]
LISTS = ["delivery_modes", "access_modes", "languages"]
# Of those, the text fields: an empty cell is empty text (the others are unset).
TEXT = {"cost_description", "concessions", "eligibility_description", "suits", "does_not_suit"}
# Of those, yes/no fields: an empty cell leaves them as they are (or their default).
FLAGS = {"runs_on_bank_holidays"}
COLUMNS = [
    "activity_id",
    "name",
    "organisation_id",
    "organisation_name",
    "venue_ids",
    "venue_names",
    "venue_addresses",
    "venue_cities",
    "venue_postcodes",
    "schedules",
    "terms",
    *PLAIN,
    *LISTS,
    "last_confirmed_at",
    "updated_at",
]
SCHEDULE = re.compile(
    r"^(?P<freq>WEEKLY|MONTHLY)(?:/(?P<interval>\d+))?\s+(?P<byday>\S+)\s+"
    r"(?P<opens>\d{2}:\d{2}(?::\d{2})?)-(?P<closes>\d{2}:\d{2}(?::\d{2})?)$"
)


def _joined(values: list[Any]) -> str:
    return SEPARATOR.join("" if v is None else str(v) for v in values)


def _clock(value: str) -> str:
    return value[:5] if value.endswith(":00") and len(value) == 8 else value


def schedule_text(schedule: dict[str, Any]) -> str:
    every = f"/{schedule['interval']}" if schedule["interval"] != 1 else ""
    return (
        f"{schedule['freq']}{every} {schedule['byday']} "
        f"{_clock(schedule['opens_at'])}-{_clock(schedule['closes_at'])}"
    )


def row_of(activity: dict[str, Any]) -> dict[str, Any]:
    """One spreadsheet row of an activity as the API shows it (``ActivityPublic`` JSON)."""
    venues = activity["venues"]
    return {
        "activity_id": activity["id"],
        "name": activity["name"],
        "organisation_id": activity["organisation"]["id"],
        "organisation_name": activity["organisation"]["name"],
        "venue_ids": _joined([v["id"] for v in venues]),
        "venue_names": _joined([v["name"] for v in venues]),
        "venue_addresses": _joined([v["address_1"] for v in venues]),
        "venue_cities": _joined([v["city"] for v in venues]),
        "venue_postcodes": _joined([v["postcode"] for v in venues]),
        "schedules": _joined([schedule_text(s) for s in activity["schedules"]]),
        "terms": _joined([f"{t['taxonomy']}:{t['code']}" for t in activity["terms"]]),
        **{name: activity[name] for name in PLAIN},
        **{name: _joined(activity[name]) for name in LISTS},
        "last_confirmed_at": activity["last_confirmed_at"],
        "updated_at": activity["updated_at"],
    }


def flag(cell: str) -> bool | None:
    """A yes/no cell ("True", "yes", "1"; "False", "no", "0") as a bool; None if neither."""
    word = cell.strip().lower()
    if word in ("true", "yes", "y", "1"):
        return True
    if word in ("false", "no", "n", "0"):
        return False
    return None


def split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def parse_schedule(text: str) -> dict[str, Any] | None:
    """``WEEKLY TU 10:00-12:00`` as schedule fields, or None when it does not read."""
    found = SCHEDULE.match(text.strip())
    if found is None:
        return None
    return {
        "freq": found["freq"],
        "interval": int(found["interval"] or 1),
        "byday": found["byday"],
        "opens_at": found["opens"],
        "closes_at": found["closes"],
    }


def rows(pages: Iterator[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    for page in pages:
        yield from (row_of(activity) for activity in page)
