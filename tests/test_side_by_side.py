"""A report's two halves read at once on PostgreSQL (app/reports/side_by_side.py): on two
connections when one is spare, on the request's own otherwise, and with errors raised as
if they had run in turn."""

import pytest
from sqlalchemy import text
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine
from app.reports.side_by_side import side_by_side

POSTGRESQL = not get_settings().is_sqlite


def _backend(session: Session):
    if POSTGRESQL:
        return session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return id(session.connection().connection.dbapi_connection)


def test_on_postgresql_the_second_half_reads_on_a_connection_of_its_own(session):
    here, there = side_by_side(session, _backend, _backend)
    if POSTGRESQL:
        assert here != there
    else:  # SQLite: one after the other, on the request's connection
        assert here == there


def test_with_no_connection_to_spare_both_run_on_the_requests_own(monkeypatch):
    engine = get_engine()
    monkeypatch.setattr(engine.pool, "checkedout", lambda: engine.pool.size())
    with Session(engine) as session:
        here, there = side_by_side(session, _backend, _backend)
    assert here == there


@pytest.mark.parametrize("failing", ["first", "second"])
def test_an_error_in_either_half_is_raised_to_the_caller(session, failing):
    def fails(_own):
        raise LookupError(failing)

    halves = (fails, _backend) if failing == "first" else (_backend, fails)
    with pytest.raises(LookupError, match=failing):
        side_by_side(session, *halves)
    # The spare connection was given back: the next report can use it again.
    here, there = side_by_side(session, _backend, _backend)
    assert (here != there) is POSTGRESQL
