"""The UK profile's JSON schemas (``schemas/``, CC BY-SA 4.0), as validators: the importer
checks every record it reads with them, the tests every page the feed writes."""

import json
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


def problems(name: str, document: Any) -> list[str]:
    """What is wrong with ``document`` by schema ``name``, one line each, e.g.
    ``"service_at_locations.0.location.location_type: 'house' is not one of [...]"``."""
    found = sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(record)'}: {e.message}" for e in found
    ]
