"""SIGNPOST_READ_DATABASE_URL: referral search and reports read from the replica; the
search log, sign-in and every write stay on the primary (issue #20, scaling out)."""

import pytest
from sqlalchemy import event, func, select

from app.accounts.models import GlobalRole
from app.core import db
from app.core.config import get_settings
from app.main import app
from app.search.models import SearchLog
from tests.factories import create_listing


@pytest.fixture
def replica(monkeypatch):
    """A read engine of its own (on the same database, so the test runs on both SQLite and
    PostgreSQL); records which engine each connection checkout came from."""
    monkeypatch.setattr(get_settings(), "read_database_url", get_settings().database_url)
    monkeypatch.setattr(db, "_read_engine", None)
    checkouts = {"primary": 0, "replica": 0}

    def counter(name):
        def count(*_):
            checkouts[name] += 1

        return count

    primary_listener = counter("primary")
    event.listen(db.get_engine(), "checkout", primary_listener)
    read_engine = db.get_read_engine()
    event.listen(read_engine, "checkout", counter("replica"))
    checkouts["reset"] = lambda: checkouts.update(primary=0, replica=0)
    yield checkouts
    event.remove(db.get_engine(), "checkout", primary_listener)
    read_engine.dispose()


def test_without_a_replica_reads_use_the_primary_engine():
    assert get_settings().read_database_url is None
    assert db.get_read_engine() is db.get_engine()


def test_search_reads_the_replica_and_logs_on_the_primary(replica, client, searcher, session):
    create_listing(client, name="Replica Walking Group")
    replica["reset"]()
    answer = searcher.get("/v1/referral-options", params={"q": "walking", "postcode": "BS5 6AW"})
    assert answer.status_code == 200
    assert [o["activity"]["name"] for o in answer.json()["contents"]] == ["Replica Walking Group"]
    assert replica["replica"] == 1
    # Who is asking (the request's own transaction), then the search log in a transaction
    # of its own once the answer has gone.
    assert replica["primary"] == 2
    assert session.scalar(select(func.count()).select_from(SearchLog)) == 1


REPORTS = sorted(path for path in app.openapi()["paths"] if path.startswith("/v1/reports/"))


def test_every_report_is_covered():
    assert len(REPORTS) >= 6


@pytest.mark.parametrize("path", REPORTS)
def test_reports_read_the_replica(replica, as_role, client, path):
    commissioner = as_role(GlobalRole.commissioner)
    params = {}
    if path.endswith("/area-profile"):  # the one report that needs an area
        area = client.post("/v1/areas", json={"kind": "ward", "name": "X", "places": ["BS5 6"]})
        params = {"area": area.json()["id"]}
    replica["reset"]()
    assert commissioner.get(path, params=params).status_code == 200
    # One statement per report; the profile joins several reports' figures.
    assert replica["replica"] >= 1 if params else replica["replica"] == 1


def test_writes_never_touch_the_replica(replica, client):
    create_listing(client)
    assert replica["replica"] == 0
    assert replica["primary"] > 0
