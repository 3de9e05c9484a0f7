"""Reading the hot paths' kept statements (a search page, a listing page, one activity)
without SQLAlchemy's per-execution work.

Those statements are built once per shape of request and run with each request's values.
``Connection.execute`` still does, every time, what only their first run needs: it looks
the compiled form up by the statement's cache key, sets up a compiled execution context
and the result's metadata and type processing, and builds a ``Row`` per row. ``Kept.rows``
compiles each statement once, binds the values with the statement's own bind processing,
sends the SQL through ``exec_driver_sql`` (so SQLAlchemy's error wrapping, events and
invalidation of a broken connection still apply) and reads each column with its type's
own result processing: the same rows, 0.3 ms less CPU a search page on the benchmark
machine (bench/RESULTS.md, 2026-11-28). Callers cache ``Kept(statement)`` where they
cached the statement, and read with ``kept.rows(session, values)``. Statements whose SQL
depends on their values (expanding ``IN`` lists, values rendered inline) go through
``execute`` as before, as does everything on SQLite, whose driver takes positional
parameters.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session


@dataclass
class _Prepared:
    """A statement's compiled form for one database (None when it must go through
    ``execute``) and, by the driver's column types, its columns' result processing."""

    compiled: SQLCompiler | None
    readers: dict[tuple[Any, ...], tuple[Callable[[Any], Any] | None, ...]] = field(
        default_factory=dict
    )


class Kept:
    """A statement kept for reuse (built once per shape of request, in the caller's cache)
    with its compiled form for each database it has run on, kept as long as it is (a
    compiled search page holds about 100 KB)."""

    def __init__(self, statement: Select) -> None:
        self.statement = statement
        self._prepared: dict[str, _Prepared] = {}

    def rows(self, session: Session, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows of the statement run with ``values``, as dicts keyed by column name
        (what ``session.execute(statement, values).mappings()`` gives), through
        ``session``'s connection."""
        connection = session.connection()
        prepared = self._prepared.get(connection.dialect.name)
        if prepared is None:
            prepared = _Prepared(_compiled(self.statement, connection))
            self._prepared[connection.dialect.name] = prepared
        if prepared.compiled is None:
            return [dict(row) for row in connection.execute(self.statement, values).mappings()]
        return _run(connection, self.statement, prepared, values)

    def took_the_short_way(self, session: Session) -> bool:
        """Whether it ran on ``session``'s database without ``execute`` (for tests)."""
        prepared = self._prepared.get(session.get_bind().dialect.name)
        return prepared is not None and prepared.compiled is not None


def _compiled(statement: Select, connection: Connection) -> SQLCompiler | None:
    """``statement`` compiled for the connection's database; None when it must go through
    ``execute`` (SQLite, or SQL that depends on the values)."""
    dialect = connection.dialect
    if dialect.name != "postgresql":
        return None
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):
        return None
    return compiled


def _run(
    connection: Connection, statement: Select, prepared: _Prepared, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    assert prepared.compiled is not None
    state = prepared.compiled.construct_expanded_state(values)
    processors = state.processors
    parameters = {
        name: processors[name](value) if name in processors else value
        for name, value in state.parameters.items()
    }
    result = connection.exec_driver_sql(state.statement, parameters)
    names = tuple(result.keys())
    types = tuple(column[1] for column in result.cursor.description)
    readers = prepared.readers.get(types)
    if readers is None:
        # Each column's result processing (an enum's members from their names, a decimal
        # as a float…), as ``execute`` would apply it.
        dialect = connection.dialect
        readers = prepared.readers[types] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, type_code)
            for column, type_code in zip(statement.selected_columns, types, strict=True)
        )
    if not any(readers):
        return [dict(zip(names, row, strict=True)) for row in result]
    return [
        {
            name: reader(value) if reader is not None else value
            for name, reader, value in zip(names, readers, row, strict=True)
        }
        for row in result
    ]
