"""The UK profile's JSON schemas (``schemas/``, CC BY-SA 4.0), as validators: the importer
checks every record it reads with them, the tests every page the feed writes."""

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator

# The profile's list schemas name the ``Page`` envelope without constraining it (their
# ``allOf`` holds it under an unknown keyword), so it is stated here as the profile says.
PAGE = {
    "type": "object",
    "required": [
        "total_items",
        "total_pages",
        "page_number",
        "size",
        "first_page",
        "last_page",
        "empty",
        "contents",
    ],
    "properties": {
        "total_items": {"type": "integer", "minimum": 0},
        "total_pages": {"type": "integer", "minimum": 0},
        "page_number": {"type": "integer", "minimum": 1},
        "size": {"type": "integer", "minimum": 0},
        "first_page": {"type": "boolean"},
        "last_page": {"type": "boolean"},
        "empty": {"type": "boolean"},
        "contents": {"type": "array"},
    },
}

# Which schema each endpoint answers with: one item of a list, or the whole object.
LIST_ITEM = {
    "services": "service_list",
    "organizations": "organization_list",
    "service_at_locations": "service_at_location_list",
    "taxonomies": "taxonomy_list",
    "taxonomy_terms": "taxonomy_term_list",
}
ONE = {
    "services": "service",
    "organizations": "organization",
    "service_at_locations": "service_at_location",
    "taxonomies": "taxonomy",
    "taxonomy_terms": "taxonomy_term",
}


@cache
def _schema(name: str) -> dict[str, Any]:
    text = resources.files("app.openreferral").joinpath(f"schemas/{name}.json").read_text("utf-8")
    schema = json.loads(text)
    if name.endswith("_list") and name != "organization_list":
        # A page schema: its items are what a list holds (organization_list is one item).
        schema = schema["properties"]["contents"]["items"]
    return schema


@cache
def validator(name: str) -> Draft7Validator:
    """A validator for ``name`` (a file of ``schemas/``, or ``page``), checking formats
    (uuid, email, date-time...) as well as types and required fields."""
    schema = PAGE if name == "page" else _schema(name)
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


@dataclass(frozen=True)
class Issue:
    field: str  # the property at fault (for a missing one, its name)
    line: str  # e.g. "service_at_locations.0.location.location_type: 'house' is not one of..."


def issues(name: str, document: Any) -> list[Issue]:
    """What is wrong with ``document`` by schema ``name``, in document order."""
    found = sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [Issue(field=_field(e), line=_line(e)) for e in found]


def _field(error: Any) -> str:
    if error.validator == "required" and "'" in error.message:
        return error.message.split("'")[1]
    return str(error.absolute_path[-1]) if error.absolute_path else ""


def _line(error: Any) -> str:
    return f"{'.'.join(str(p) for p in error.absolute_path) or '(record)'}: {error.message}"


def problems(name: str, document: Any) -> list[str]:
    """:func:`issues` as lines, e.g.
    ``"service_at_locations.0.location.location_type: 'house' is not one of [...]"``."""
    return [issue.line for issue in issues(name, document)]
