"""The migrations and the models describe the same schema, and the chain runs both ways."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.core import schema_version
from app.core.config import get_settings
from app.core.db import get_engine
from app.core.migrations import (
    current_revision,
    downgrade,
    head_revision,
    include_object,
    upgrade,
)
from app.models import metadata


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_autogenerate_finds_no_difference():
    with get_engine().connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": include_object,
            },
        )
        assert compare_metadata(context, metadata) == []


def test_upgrade_downgrade_upgrade():
    url = get_settings().database_url
    engine = get_engine()
    expected = {table.name for table in metadata.sorted_tables}

    downgrade(url, "base")
    engine.dispose()
    assert set(inspect(engine).get_table_names()) & expected == set()
    assert current_revision(engine) is None
    with engine.connect() as connection:
        assert schema_version.current(connection) is None  # what /readyz reads

    upgrade(url)
    engine.dispose()
    assert expected <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert schema_version.current(connection) == head_revision()


def test_readiness_knows_the_latest_migration_as_alembic_does():
    """/readyz reads the latest revision from the files' names, without Alembic."""
    assert schema_version.latest() == head_revision()
    assert schema_version.latest() == max(  # each file names its revision first
        path.read_text().split("revision: str = ", 1)[1].split("\n", 1)[0].strip("'\"")
        for path in schema_version.VERSIONS.glob("*.py")
    )


def test_capacity_is_backfilled_for_activities_that_existed_before_it(client):
    from tests.factories import create_activity, create_organisation

    organisation = create_organisation(client, status="published")
    activity = create_activity(client, organisation["id"])
    url = get_settings().database_url
    engine = get_engine()
    downgrade(url, "0003_search")
    engine.dispose()
    upgrade(url)
    engine.dispose()
    capacity = client.get(f"/v1/activities/{activity['id']}/capacity")
    assert capacity.status_code == 200
    body = capacity.json()
    assert (body["status"], body["available"], body["release_places_on"]) == (
        "open",
        None,
        ["did_not_attend", "completed", "withdrawn"],
    )


def test_areas_are_backfilled_for_organisations_that_existed_before_reports(client, session):
    from sqlalchemy import text

    from tests.factories import create_organisation

    organisation = create_organisation(client, areas_served=["Bristol", "bs5 ", "BS5"])
    url = get_settings().database_url
    engine = get_engine()
    downgrade(url, "0006_support")
    engine.dispose()
    upgrade(url, "0013_open_referral")  # the last revision with the text mirror (0014: areas)
    engine.dispose()
    try:
        rows = session.execute(text("SELECT organisation_id, area FROM organisation_area")).all()
        assert sorted(area for _, area in rows) == ["BRISTOL", "BS5"]
        assert {str(o).replace("-", "") for o, _ in rows} == {organisation["id"].replace("-", "")}
    finally:
        session.rollback()
        upgrade(url)
        engine.dispose()


def test_searches_logged_before_areas_count_in_the_daily_demand(session):
    """Migration 0014 counts the searches already logged into search_demand_day."""
    from sqlalchemy import text

    url = get_settings().database_url
    engine = get_engine()
    downgrade(url, "0013_open_referral")
    engine.dispose()
    try:
        need = str(uuid.uuid4())
        for count in (0, 2, 7):
            session.execute(
                text(
                    "INSERT INTO search_log (id, searched_at, outcode, need_ids, category_ids, "
                    "filters, unmatched, result_count) VALUES (:id, :at, 'BS5', :needs, '[]', "
                    "'{}', '[]', :count)"
                ),
                {
                    "id": uuid.uuid4().hex,
                    "at": "2026-11-20 10:00:00",
                    "needs": f'["{need}"]',
                    "count": count,
                },
            )
        session.commit()
    finally:
        upgrade(url)
        engine.dispose()
    row = session.execute(
        text("SELECT place, searches, fewer_than_3, no_results FROM search_demand_day")
    ).one()
    assert tuple(row) == ("BS5", 3, 2, 1)


def test_cards_stored_before_closures_gain_them_as_built(client):
    """Migration 0016 adds closures and runs_on_bank_holidays to every stored card in one
    UPDATE; each card then equals one built from the tables, and reads as before."""
    from sqlmodel import Session, select

    from app.activities import cards
    from app.activities.models import Activity
    from app.closures import lookup
    from app.search.models import ActivityCardRecord
    from app.search.schedule import uk_today
    from tests.factories import create_activity, create_organisation

    organisation = create_organisation(client, status="published")
    activity = create_activity(client, organisation["id"])
    url = get_settings().database_url
    engine = get_engine()
    downgrade(url, "0015_teams")
    engine.dispose()
    with engine.connect() as connection:
        old = connection.execute(select(ActivityCardRecord.card)).scalars().all()
    assert old and all("closures" not in card for card in old)
    upgrade(url)
    engine.dispose()
    with Session(engine) as session:
        loaded = session.execute(select(Activity).options(*cards.LOAD)).scalars().all()
        closed = lookup.for_activities(session, loaded, uk_today())
        stored = dict(
            session.execute(select(ActivityCardRecord.activity_id, ActivityCardRecord.card)).all()
        )
        for each in loaded:
            assert stored[each.id] == cards.build(each, closed[each.id])
    shown = client.get(f"/v1/activities/{activity['id']}").json()
    assert (shown["closures"], shown["runs_on_bank_holidays"]) == ([], False)
