"""The few SQL pieces that PostgreSQL and SQLite spell differently."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    BindParameter,
    ColumnElement,
    Text,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import array

from app.geo.service import EARTH_RADIUS_KM


def bound_strings(name: str, dialect: str) -> BindParameter:
    """A list of strings bound when the statement runs (``json_has_any`` and
    ``json_has_all`` take it for ``values``): a text[] on PostgreSQL, an expanding IN list
    on SQLite. Statements kept for reuse bind their lists this way."""
    if dialect == "postgresql":
        return bindparam(name, type_=ARRAY(Text))
    return bindparam(name, expanding=True)


def _strings(values: Sequence[Any] | BindParameter, dialect: str):
    """Values as the dialect's list of strings; bound values stay as they are."""
    if isinstance(values, BindParameter):
        return values
    strings = [v if isinstance(v, BindParameter) else str(v) for v in values]
    return array(strings) if dialect == "postgresql" else strings


def json_has_any(
    column, values: Sequence[str] | BindParameter, dialect: str
) -> ColumnElement[bool]:
    """The JSON array in ``column`` holds at least one of ``values`` (on PostgreSQL the ``?|``
    operator, which a GIN index on the column serves)."""
    if dialect == "postgresql":
        return column.bool_op("?|")(_strings(values, dialect))
    items = func.json_each(column).table_valued("value").alias()
    return exists(select(1).select_from(items).where(items.c.value.in_(_strings(values, dialect))))


def json_has_all(
    column, values: Sequence[str] | BindParameter, dialect: str
) -> ColumnElement[bool]:
    """The JSON array in ``column`` holds every one of ``values`` (on SQLite, one check per
    value: bind each value on its own there)."""
    if dialect == "postgresql":
        return func.jsonb_exists_all(column, _strings(values, dialect))
    return and_(*(json_has_any(column, [value], dialect) for value in values))


# Built per database by migration 0003, outside the models.
_pg_search = table("activity_search", column("activity_id"), column("tsv"))
# The copy of the activity's vector on each place row (PostgreSQL; migration 0021).
PLACE_TSV = literal_column("activity_place.tsv")
_sqlite_fts = table("activity_fts", column("activity_id"), column("document"))


def text_query(words: Sequence[str], dialect: str) -> str:
    """``words`` as the full-text query ``text_match`` runs (bind it to a statement kept
    for reuse): plain words for PostgreSQL's plainto_tsquery, quoted terms joined by AND
    for SQLite's FTS5 MATCH."""
    if dialect == "postgresql":
        return " ".join(words)
    return " AND ".join('"' + word.replace('"', "") + '"' for word in words)


def text_match(
    activity_id_column,
    words: Sequence[str] | BindParameter,
    dialect: str,
    per_candidate: bool = False,
    vector: ColumnElement | None = None,
) -> ColumnElement[bool]:
    """Every word, stemmed, occurs in the activity's search document (``words``, or a
    bound ``text_query``). On PostgreSQL: ``vector``, the row's own copy of the document's
    vector (``PLACE_TSV``), is checked where it is read; ``per_candidate``: the candidates
    are few (the services serving one place), so check each one's document through its
    primary key rather than collect every match in the country first. SQLite's full-text
    table has no key to look a document up by: it collects the matches."""
    if not isinstance(words, BindParameter):
        words = text_query(words, dialect)
    if dialect == "postgresql":
        query = func.plainto_tsquery("english", words)
        if vector is not None:
            return vector.op("@@")(query)
        if per_candidate:
            return exists().where(
                _pg_search.c.activity_id == activity_id_column, _pg_search.c.tsv.op("@@")(query)
            )
        matching = select(_pg_search.c.activity_id).where(_pg_search.c.tsv.op("@@")(query))
    else:
        matching = select(_sqlite_fts.c.activity_id).where(
            _sqlite_fts.c.document.op("MATCH")(words)
        )
    return activity_id_column.in_(matching)


def haversine_km(latitude, longitude, lat0: float, lon0: float) -> ColumnElement[float]:
    half_d_lat = func.radians(latitude - lat0) / 2
    half_d_lon = func.radians(longitude - lon0) / 2
    a = func.power(func.sin(half_d_lat), 2) + func.cos(func.radians(lat0)) * func.cos(
        func.radians(latitude)
    ) * func.power(func.sin(half_d_lon), 2)
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(a))


def any_of(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*conditions) if len(conditions) > 1 else conditions[0]
