"""``signpost cluster-search``: the search tables rewritten compactly, place rows in place
order, without changing what any search finds; and the room left on their pages, so that
capacity changes keep rows where the command put them (PostgreSQL; nothing on SQLite)."""

import threading

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import cli
from app.core.db import get_engine
from app.models import metadata
from tests.factories import create_activity, create_organisation, create_venue, patch

on_postgresql = pytest.mark.skipif(
    get_engine().dialect.name != "postgresql", reason="CLUSTER and FILLFACTOR are PostgreSQL's"
)

# Outcodes from south to north, venues made in a shuffled order (so rows are written out of
# place order, as imports and edits write them).
SOUTH_TO_NORTH = ["TR1 1AA", "BS5 6AW", "B1 1AA", "M1 1AE", "LS1 4AP", "NE1 4ST"]
MADE_IN = [3, 0, 5, 1, 4, 2]


def _place_rows_as_stored(session) -> list[tuple[float, str]]:
    """(latitude, venue id) of each place row in the order its pages hold them."""
    return [
        (row.latitude, str(row.venue_id))
        for row in session.execute(
            text("SELECT latitude, venue_id FROM activity_place ORDER BY ctid")
        )
    ]


def _listing_across_england(client, copies: int = 1) -> dict[str, str]:
    """A published organisation's activities, ``copies`` at each venue: {venue id: postcode}."""
    organisation = create_organisation(client, status="published")
    venues = {}
    for n in MADE_IN:
        venue = create_venue(client, postcode=SOUTH_TO_NORTH[n])
        venues[venue["id"]] = SOUTH_TO_NORTH[n]
        for _ in range(copies):
            create_activity(client, organisation["id"], venue_ids=[venue["id"]])
    return venues


def _search(client, postcode: str) -> list[tuple[str, float]]:
    response = client.get(
        "/v1/referral-options", params={"postcode": postcode, "radius_km": 100, "per_page": 50}
    )
    assert response.status_code == 200, response.text
    return [(o["activity"]["id"], o["distance_km"]) for o in response.json()["contents"]]


@on_postgresql
def test_cluster_search_puts_place_rows_in_place_order_and_finds_the_same(client, session):
    venues = _listing_across_england(client)
    before = _place_rows_as_stored(session)
    session.rollback()
    assert [lat for lat, _ in before] != sorted(lat for lat, _ in before)  # written unsorted
    found_before = {postcode: _search(client, postcode) for postcode in ("BS5", "LS1", "NE1")}
    assert all(found_before.values())

    result = CliRunner().invoke(cli, ["cluster-search"])

    assert result.exit_code == 0, result.output
    assert "activity_place: " in result.output and "activity_facet: " in result.output
    after = _place_rows_as_stored(session)
    session.rollback()
    assert [lat for lat, _ in after] == sorted(lat for lat, _ in before)
    assert [venues[venue] for _, venue in after] == SOUTH_TO_NORTH
    assert {postcode: _search(client, postcode) for postcode in found_before} == found_before


@on_postgresql
def test_cluster_search_gives_up_on_a_busy_table_without_waiting_it_out(client, session):
    """Another transaction holds the place rows: the command asks for the lock briefly,
    a few times, then stops with a non-zero exit, having changed nothing."""
    _listing_across_england(client)
    before = _place_rows_as_stored(session)
    session.rollback()
    holder = get_engine().connect()
    holder.execute(text("SELECT 1 FROM activity_place FOR UPDATE"))  # an edit in progress
    try:
        result = CliRunner().invoke(
            cli, ["cluster-search", "--wait-ms", "50", "--attempts", "2", "--pause", "0"]
        )
    finally:
        holder.rollback()
        holder.close()

    assert result.exit_code == 1
    assert "activity_place stayed busy through 2 attempts" in result.output
    assert _place_rows_as_stored(session) == before


@on_postgresql
def test_searches_wait_for_cluster_search_and_then_find_everything(client, session):
    """A search made while the place rows are being rewritten waits for them, then finds
    every activity (none is missing from a half-written table)."""
    _listing_across_england(client)
    expected = _search(client, "BS5")
    holder = get_engine().connect()
    holder.execute(text("LOCK TABLE activity_place IN ACCESS EXCLUSIVE MODE"))  # as CLUSTER
    found = []
    searching = threading.Thread(target=lambda: found.append(_search(client, "BS5")))
    searching.start()
    searching.join(0.5)
    assert searching.is_alive()  # waiting, not failed
    holder.execute(text("CLUSTER activity_place USING ix_activity_place_latitude_longitude"))
    holder.commit()
    holder.close()
    searching.join(10)
    assert found == [expected]


@on_postgresql
def test_a_capacity_change_leaves_a_clustered_place_row_where_it_lies(client, session):
    """Pages keep room (FILLFACTOR): a capacity change, which rewrites the activity's
    place rows, writes the new version on the same page, so the place order holds. One
    activity per page, so the room need not have been freed by PostgreSQL in between
    (pruning, which waits for other transactions): on a page packed full, it moves."""
    _listing_across_england(client, copies=8)  # enough rows to fill more than one page
    assert CliRunner().invoke(cli, ["cluster-search"]).exit_code == 0
    pages = text(
        "SELECT activity_id, (ctid::text::point)[0] AS page FROM activity_place ORDER BY ctid"
    )
    first_on_each_page = {}
    for row in session.execute(pages):
        first_on_each_page.setdefault(row.page, row.activity_id)
    session.rollback()
    assert len(first_on_each_page) > 1

    for activity_id in first_on_each_page.values():
        path = f"/v1/activities/{activity_id}/capacity"
        assert patch(client, path, {"maximum": 10, "available": 0}).status_code == 200

    now = {row.activity_id: row.page for row in session.execute(pages)}
    session.rollback()
    assert {now[a]: a for a in first_on_each_page.values()} == first_on_each_page
    copied = text("SELECT activity_id FROM activity_place WHERE capacity_available = 0")
    assert set(session.execute(copied).scalars()) == set(first_on_each_page.values())


@on_postgresql
@pytest.mark.parametrize(
    "table",
    [t for t in metadata.sorted_tables if t.dialect_options["postgresql"]["with"]],
    ids=lambda t: t.name,
)
def test_storage_parameters_are_as_the_models_declare(session, table):
    """The migrations set what the models declare (Alembic does not compare these)."""
    declared = {f"{k}={v}" for k, v in table.dialect_options["postgresql"]["with"].items()}
    stored = session.execute(
        text("SELECT reloptions FROM pg_class WHERE oid = CAST(:name AS regclass)"),
        {"name": table.name},
    ).scalar_one()
    assert set(stored or []) == declared


def test_cluster_search_on_sqlite_says_there_is_nothing_to_do():
    if get_engine().dialect.name != "sqlite":
        pytest.skip("SQLite's answer")
    result = CliRunner().invoke(cli, ["cluster-search"])
    assert result.exit_code == 0
    assert "nothing to do on SQLite" in result.output
