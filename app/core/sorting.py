"""Typed sort parameters: ``name`` ascending, ``-name`` descending; ties broken by id."""

from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement


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
