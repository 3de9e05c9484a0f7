"""What the API accepts as dates, times, text and URLs: one definition of each, used by
every request body, query parameter and form field.

- Dates and datetimes are ISO 8601 strings only (never numbers read as Unix timestamps),
  between 1900 and 2200, so no offset can push them past what Python or the database can
  hold. A datetime without an offset means UTC; what comes out is always timezone-aware.
- Times of day are UK local wall-clock times ("10:00"): the schedule they belong to says
  when, so an offset would be ambiguous half the year and is refused.
- Text never holds control characters other than tab and line breaks, nor lone UTF-16
  surrogates: PostgreSQL refuses NUL, and nobody means any of them.
"""

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import Request
from pydantic import (
    AfterValidator,
    BeforeValidator,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from app.core.errors import InvalidField

FIRST_YEAR, LAST_YEAR = 1900, 2200

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?"
_OFFSET = r"(Z|[+-]\d{2}(:?\d{2})?)"
_ISO = {
    "date": (re.compile(rf"^{_DATE}$"), "2026-11-26"),
    "datetime": (re.compile(rf"^{_DATE}([Tt ]{_TIME}{_OFFSET}?)?$"), "2026-11-26T09:30:00Z"),
    "time": (re.compile(rf"^{_TIME}$"), "10:00"),
}
_TIME_WITH_OFFSET = re.compile(rf"^{_TIME}{_OFFSET}$")

# C0 controls except tab, LF and CR; DEL; C1 controls; lone surrogates.
_BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _iso_only(kind: str):
    pattern, example = _ISO[kind]

    def check(value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if kind == "time" and _TIME_WITH_OFFSET.match(text):
                raise PydanticCustomError(
                    "time_offset",
                    "give the UK local time without an offset, e.g. {example}",
                    {"example": example},
                )
            if not pattern.match(text):
                raise PydanticCustomError(
                    "iso_8601",
                    "must be an ISO 8601 {kind}, e.g. {example}",
                    {"kind": kind, "example": example},
                )
            return text
        if isinstance(value, int | float | bool):
            raise PydanticCustomError(
                "iso_8601",
                "must be an ISO 8601 {kind} string, e.g. {example}, not a number",
                {"kind": kind, "example": example},
            )
        return value

    return check


def _in_range(value: date) -> None:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise PydanticCustomError(
            "date_out_of_range",
            "must be between {first} and {last}",
            {"first": FIRST_YEAR, "last": LAST_YEAR},
        )


def _sane_datetime(value: datetime) -> datetime:
    _in_range(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    _in_range(value.astimezone(UTC))
    return value


def _sane_date(value: date) -> date:
    _in_range(value)
    return value


def _local_time(value: time) -> time:
    if value.tzinfo is not None:  # a time object from code rather than from the wire
        raise PydanticCustomError("time_offset", "give the UK local time without an offset")
    return value


Instant = Annotated[
    datetime, BeforeValidator(_iso_only("datetime")), AfterValidator(_sane_datetime)
]
Day = Annotated[date, BeforeValidator(_iso_only("date")), AfterValidator(_sane_date)]
# JSON Schema's "time" format demands an offset, which a UK wall-clock time has none of.
ClockTime = Annotated[
    time,
    BeforeValidator(_iso_only("time")),
    AfterValidator(_local_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
            "description": "UK local wall-clock time, no offset",
            "examples": ["10:00", "18:30:00"],
        }
    ),
]


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if _BAD_TEXT.search(value):
        return "must not contain control characters (such as NUL) or invalid Unicode"
    return None


def check_text(value: Any) -> Any:
    """Refuse bad text anywhere in ``value`` (a string, or lists and dicts of them)."""
    if isinstance(value, str):
        if problem := text_problem(value):
            raise PydanticCustomError("control_characters", problem)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_text(item)
    return value


Text = Annotated[str, AfterValidator(check_text)]

_http_url = TypeAdapter(HttpUrl)


def _real_url(value: str) -> str:
    check_text(value)
    try:
        url = _http_url.validate_python(value)
    except ValueError:
        raise PydanticCustomError(
            "url", "must be a web address starting http:// or https://"
        ) from None
    if not url.host or ("." not in url.host and url.host != "localhost"):
        raise PydanticCustomError("url", "must name a real host, e.g. https://example.org")
    return value


WebUrl = Annotated[
    str,
    StringConstraints(max_length=500),
    AfterValidator(_real_url),
    WithJsonSchema({"type": "string", "format": "uri", "maxLength": 500}),
]


async def refuse_bad_query_text(request: Request) -> None:
    """App-wide dependency: no query or path value holds control characters (bodies are
    checked by RequestModel, the sign-in form by its own fields)."""
    for location, items in (
        ("query", request.query_params.multi_items()),
        ("path", request.path_params.items()),
    ):
        for name, value in items:
            if (problem := text_problem(name)) or (problem := text_problem(str(value))):
                field = f"{location}.{name}" if not text_problem(name) else location
                raise InvalidField(field, problem, "control_characters")
