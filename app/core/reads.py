"""Reading the hot paths' kept statements (a search page, a listing page, one activity)
without SQLAlchemy's per-execution work.

Those statements are built once per shape of request and run with each request's values.
``Connection.execute`` still does, every time, what only their first run needs: it looks
the compiled form up by the statement's cache key, sets up a compiled execution context
and the result's metadata and type processing, and builds a ``Row`` per row. ``rows``
compiles each statement once, binds the values with the statement's own bind processing,
sends the SQL through ``exec_driver_sql`` (so SQLAlchemy's error wrapping, events and
invalidation of a broken connection still apply) and reads each column with its type's
own result processing: the same rows, 0.3 ms less CPU a search page on the benchmark
machine (bench/RESULTS.md, 2026-11-28). Statements whose SQL depends on their values
(expanding ``IN`` lists, values rendered inline) go through ``execute`` as before, as does
everything on SQLite, whose driver takes positional parameters.
"""

import functools
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Dialect, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

_KEPT = 2048  # compiled statements a worker keeps: a few per request shape (issue #14)


def rows(session: Session, statement: Select, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``statement`` run with ``values``, as dicts keyed by column name (what
    ``session.execute(statement, values).mappings()`` gives), through ``session``'s
    connection."""
    connection = session.connection()
    compiled = _compiled(statement, connection.dialect)
    if compiled is None:
        return [dict(row) for row in connection.execute(statement, values).mappings()]
    return _run(connection, statement, compiled, values)


@functools.lru_cache(maxsize=_KEPT)
def _compiled(statement: Select, dialect: Dialect) -> SQLCompiler | None:
    """``statement`` compiled for ``dialect``, once; None when it must go through
    ``execute`` (SQLite, or SQL that depends on the values)."""
    if dialect.name != "postgresql":
        return None
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):
        return None
    return compiled


def _run(
    connection: Connection, statement: Select, compiled: SQLCompiler, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    state = compiled.construct_expanded_state(values)
    processors = state.processors
    parameters = {
        name: processors[name](value) if name in processors else value
        for name, value in state.parameters.items()
    }
    result = connection.exec_driver_sql(state.statement, parameters)
    names = tuple(result.keys())
    types = tuple(column[1] for column in result.cursor.description)
    readers = _readers(statement, connection.dialect, types)
    if not any(readers):
        return [dict(zip(names, row, strict=True)) for row in result]
    return [
        {
            name: reader(value) if reader is not None else value
            for name, reader, value in zip(names, readers, row, strict=True)
        }
        for row in result
    ]


@functools.lru_cache(maxsize=_KEPT)
def _readers(
    statement: Select, dialect: Dialect, types: tuple[Any, ...]
) -> tuple[Callable[[Any], Any] | None, ...]:
    """Each column's result processing (an enum's members from their names, a decimal as
    a float…), as ``execute`` would apply it; ``types``: the driver's type codes."""
    return tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, type_code)
        for column, type_code in zip(statement.selected_columns, types, strict=True)
    )
