"""Typed sort parameters: ``name`` ascending, ``-name`` descending; ties broken by id."""

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_

from app.core.errors import InvalidField


def order_by_clauses(model: type[Any], sort: StrEnum) -> list[ColumnElement[Any]]:
    value = str(sort.value)
    column = getattr(model, value.lstrip("-"))
    primary = column.desc() if value.startswith("-") else column.asc()
    return [primary, model.id.asc()]


class ListingSort(StrEnum):
    name = "name"
    name_desc = "-name"
    created_at = "created_at"
    created_at_desc = "-created_at"
    updated_at = "updated_at"
    updated_at_desc = "-updated_at"


# --- keyset ("after") pagination ----------------------------------------------------------


def after_clause(model: type[Any], sort: StrEnum) -> ColumnElement[bool]:
    """Rows after the one a cursor names, in ``sort`` order (ties by id): a page that
    starts where the last one ended, read from the index instead of counted past. The
    cursor's values are bound when it runs (``after_values``), so the statement is built
    once per sort."""
    name = str(sort.value)
    column = getattr(model, name.lstrip("-"))
    value = bindparam("after_value", type_=column.type)
    row_id = bindparam("after_id", type_=model.id.type)
    beyond = column < value if name.startswith("-") else column > value
    return or_(beyond, and_(column == value, model.id > row_id))


def after_values(sort: StrEnum, cursor: str) -> dict[str, Any]:
    """The values ``after_clause`` binds, from ``cursor``; a 422 naming ``query.after``
    when it is not one this list gave for ``sort``."""
    value, row_id = _decode(sort, cursor)
    return {"after_value": value, "after_id": row_id}


def cursor_after(sort: StrEnum, row: Mapping[str, Any]) -> str:
    """The cursor naming ``row`` (which holds the sort column and ``id``)."""
    value = row[str(sort.value).lstrip("-")]
    if isinstance(value, datetime):
        value = value.isoformat()
    payload = json.dumps([str(sort.value), value, str(row["id"])], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode(sort: StrEnum, cursor: str) -> tuple[Any, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if name != str(sort.value):
            raise InvalidField("query.after", "was made for another sort order", "mismatch")
        if name.lstrip("-") in ("created_at", "updated_at"):
            value = datetime.fromisoformat(value)
        elif not isinstance(value, str):
            raise ValueError(value)
        return value, uuid.UUID(row_id)
    except InvalidField:
        raise
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise InvalidField(
            "query.after", "is not a cursor this list gave (use `next_after`)", "invalid"
        ) from None
