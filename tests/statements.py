"""Watching the SQL a request runs: which statements, with which values, and whether
each ran on its own (autocommit) or inside a transaction."""

from sqlalchemy import event

from app.core.db import get_engine


def _flattened(parameters) -> list:
    """A statement's parameter values in order, whether one set or many (executemany)."""
    if isinstance(parameters, dict):
        return list(parameters.values())
    if parameters and isinstance(parameters[0], dict | tuple | list):
        return [value for each in parameters for value in _flattened(each)]
    return list(parameters or ())


class Statements:
    """Counts the SQL statements the engine runs while it is active."""

    def __init__(self):
        self.seen: list[str] = []
        self.parameters: list[list] = []  # each statement's parameter values, in order
        self.alone: list[bool] = []  # whether each ran on its own, in autocommit
        self.on: list[int] = []  # the DBAPI connection each ran on (its id)

    def __call__(self, conn, _cursor, statement, parameters, *_):
        self.seen.append(statement)
        self.parameters.append(_flattened(parameters))
        dbapi = conn.connection.dbapi_connection
        self.on.append(id(dbapi))
        if conn.dialect.name == "sqlite":  # sqlite3 begins only before a write: ask both
            alone = dbapi.isolation_level is None and not dbapi.in_transaction
        else:
            alone = dbapi.autocommit and not dbapi.info.transaction_status  # IDLE
        self.alone.append(alone)

    def __enter__(self):
        event.listen(get_engine(), "before_cursor_execute", self)
        return self

    def __exit__(self, *_):
        event.remove(get_engine(), "before_cursor_execute", self)

    def touching(self, table: str) -> list[str]:
        return [s for s in self.seen if table in s]

    def _but(self, besides: tuple[str, ...], *columns: list):
        """(statement, *each column's value) for the statements not starting with ``besides``."""
        return [
            (s, *values)
            for s, *values in zip(self.seen, *columns, strict=True)
            if not s.lstrip().startswith(besides)
        ]

    def writes(self, besides: tuple[str, ...] = ()) -> list[str]:
        """The INSERT, UPDATE and DELETE statements, but those starting with ``besides``."""
        return [
            s
            for (s,) in self._but(besides)
            if s.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        ]

    def in_a_transaction(self, besides: tuple[str, ...] = ()) -> list[str]:
        """The statements run inside a transaction, but those starting with ``besides``."""
        return [s for s, alone in self._but(besides, self.alone) if not alone]

    def connections(self, besides: tuple[str, ...] = ()) -> int:
        """How many connections the statements ran on, but those starting with ``besides``."""
        return len({on for _, on in self._but(besides, self.on)})
