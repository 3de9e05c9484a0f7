"""The read model (issue #14) says what the live tables say, after every kind of write.

Listings, one activity and search results are answered from stored activity cards and
organisation standings. After each kind of write below, made through the API as users
make it, every stored card must equal the card built afresh from the live tables, every
stored standing that claims to hold must equal the standing computed afresh, and what the
API answers (read from cards) must equal what the live tables give (the ORM path)."""

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import event, select, text
from sqlmodel import Session

from app.activities import cards
from app.activities import service as activity_service
from app.activities.models import Activity
from app.activities.schemas import ActivityPage
from app.capacity.models import ActivityCapacity
from app.closures import lookup as closures
from app.core.db import get_engine
from app.core.types import utcnow
from app.organisations import standing
from app.organisations.models import OrganisationStanding
from app.search.models import (
    CAPACITY_COPIED,
    FACET_FIELDS,
    ActivityCardRecord,
    ActivityFacet,
    ActivityPlace,
    capacity_copy,
)
from app.search.schedule import uk_today
from app.search.schemas import OptionActivity, ReferralOptionPage
from tests.factories import assure, create_venue, patch
from tests.referral_world import World, build_world


def assert_read_model_is_live(admin, searcher=None) -> None:
    now = utcnow()
    with Session(get_engine()) as session:
        activities = session.execute(select(Activity).options(*cards.LOAD)).scalars().all()
        stored = dict(
            session.execute(select(ActivityCardRecord.activity_id, ActivityCardRecord.card)).all()
        )
        assert set(stored) == {a.id for a in activities}
        facets = dict(
            session.execute(select(ActivityFacet.activity_id, ActivityFacet.term_ids)).all()
        )
        closed = closures.for_activities(session, activities, uk_today(now))
        capacities = {
            row.activity_id: capacity_copy(row)
            for row in session.execute(select(ActivityCapacity.__table__))
        }
        copied = [getattr(ActivityFacet, f"capacity_{name}") for name in CAPACITY_COPIED]
        copies = {
            row[0]: dict(zip([c.key for c in copied], row[1:], strict=True))
            for row in session.execute(select(ActivityFacet.activity_id, *copied))
        }
        for activity in activities:
            assert stored[activity.id] == cards.build(activity, closed[activity.id]), activity.name
            assert facets[activity.id] == sorted(str(t.id) for t in activity.terms)
            assert copies[activity.id] == capacities.get(activity.id, capacity_copy(None))
        _assert_places_are_live(session, activities)
        rows = session.execute(
            select(OrganisationStanding.organisation_id, *standing.COLUMNS)
        ).all()
        assert rows, "no standing was stored"
        computed = standing.complete(session, {}, [row.organisation_id for row in rows], now)
        for row in rows:
            kept = standing.stored(row._mapping, now, standing.required_now())
            if kept is not None:  # a standing that has run out is computed when read
                assert kept == computed[row.organisation_id]
        for activity in activities:
            live = activity_service.public_one(session, activity).model_dump(mode="json")
            answer = admin.get(f"/v1/activities/{activity.id}")
            assert answer.status_code == 200
            assert answer.json() == live
            assert answer.headers["etag"] == f'"{activity.version}"'
    listed = admin.get("/v1/activities", params={"include_archived": True, "per_page": 100})
    assert listed.status_code == 200
    body = listed.json()
    assert {a["id"] for a in body["contents"]} == {str(a.id) for a in activities}
    assert ActivityPage.model_validate(body).model_dump(mode="json") == body  # the schema's
    if searcher is not None:
        _assert_search_is_live(searcher, admin)


def _assert_places_are_live(session: Session, activities: list[Activity]) -> None:
    """A row per live, located venue of each activity, each with a copy of the activity's
    facets (and on PostgreSQL its text vector), which located searches filter and rank."""
    located = {
        (activity.id, venue.id)
        for activity in activities
        for venue in activity.venues
        if venue.archived_at is None and venue.latitude is not None
    }
    by_activity = {
        row[0]: tuple(row[1:])
        for row in session.execute(
            select(ActivityFacet.activity_id, *(getattr(ActivityFacet, f) for f in FACET_FIELDS))
        )
    }
    places = session.execute(
        select(
            ActivityPlace.activity_id,
            ActivityPlace.venue_id,
            *(getattr(ActivityPlace, f) for f in FACET_FIELDS),
        )
    ).all()
    assert {(row[0], row[1]) for row in places} == located
    for row in places:
        assert tuple(row[2:]) == by_activity[row[0]]
    if session.get_bind().dialect.name == "postgresql":
        stale = session.execute(
            text(
                "SELECT count(*) FROM activity_place AS p JOIN activity_search AS s "
                "ON s.activity_id = p.activity_id WHERE p.tsv IS DISTINCT FROM s.tsv"
            )
        ).scalar_one()
        assert stale == 0


def _assert_search_is_live(searcher, admin) -> None:
    """Search results (cards passed through as stored) say what the live tables say, in
    exactly the shape the OpenAPI document gives."""
    answer = searcher.get("/v1/referral-options", params={"per_page": 100})
    assert answer.status_code == 200
    body = answer.json()
    assert ReferralOptionPage.model_validate(body).model_dump(mode="json", by_alias=True) == body
    for option in body["contents"]:
        live = admin.get(f"/v1/activities/{option['activity']['id']}").json()
        assert option["activity"] == {name: live[name] for name in OptionActivity.model_fields}
        assert option["organisation"]["name"] == live["organisation"]["name"]
        assert option["capacity"] == live["capacity"]
        assert option["capacity_status"] == live["capacity"]["status"]
        assert option["responsiveness"] == live["responsiveness"]
        assert option["assurance_status"] == live["assurance_level"]
        assert option["freshness"] == live["freshness"]
        assert option["nearest_venue"] in [*live["venues"], None]
        assert [
            (c["starts_on"], c["ends_on"], c["reason"] or "closed")
            for c in option["closures"]
            if c["kind"] == "closure"
        ] == [(c["starts_on"], c["ends_on"], c["reason"] or "closed") for c in live["closures"]]


def _activity_path(world: World) -> str:
    return f"/v1/activities/{world.activity['id']}"


def _edit_activity(world: World, session, check) -> None:
    answer = patch(
        world.admin,
        _activity_path(world),
        {"name": "Easton Striding Group", "cost_type": "fee", "cost_amount": "3.50"},
    )
    assert answer.status_code == 200, answer.text
    check()


def _replace_links(world: World, session, check) -> None:
    venue = create_venue(world.admin, name="Stapleton Road Hall")
    answer = patch(
        world.admin,
        _activity_path(world),
        {
            "venue_ids": [venue["id"]],
            "term_ids": [world.needs["social-isolation"], world.needs["low-mood"]],
            "schedules": [
                {"freq": "MONTHLY", "byday": "1TH", "opens_at": "18:30", "closes_at": "20:00"},
                {"freq": "WEEKLY", "byday": "MO,WE", "opens_at": "09:00", "closes_at": "10:00"},
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    check()


def _confirm_and_archive(world: World, session, check) -> None:
    assert world.admin.post(f"{_activity_path(world)}/confirm").status_code == 200
    check()
    assert world.admin.post(f"{_activity_path(world)}/archive").status_code == 200
    check()


def _edit_and_archive_venue(world: World, session, check) -> None:
    venue = create_venue(world.admin, name="Old Hall")
    linked = patch(world.admin, _activity_path(world), {"venue_ids": [venue["id"]]})
    assert linked.status_code == 200, linked.text
    check()
    moved = patch(
        world.admin,
        f"/v1/venues/{venue['id']}",
        {"name": "New Hall", "address_1": "2 Church Road", "postcode": "BS2 0JZ"},
    )
    assert moved.status_code == 200, moved.text
    check()
    assert world.admin.post(f"/v1/venues/{venue['id']}/archive").status_code == 200
    check()


def _edit_organisation(world: World, session, check) -> None:
    path = f"/v1/organisations/{world.organisation['id']}"
    changed = patch(
        world.admin,
        path,
        {"name": "Easton Walkers", "phone": "0117 496 0000", "website": "https://walk.example"},
    )
    assert changed.status_code == 200, changed.text
    check()
    assert patch(world.admin, path, {"status": "draft"}).status_code == 200
    check()
    assert world.admin.post(f"{path}/verify").status_code == 200
    check()


def _archive_organisation(world: World, session, check) -> None:
    path = f"/v1/organisations/{world.organisation['id']}/archive"
    assert world.admin.post(path).status_code == 200
    check()


def _curate_terms(world: World, session, check) -> None:
    tagged = patch(world.admin, _activity_path(world), {"term_ids": [world.needs["low-mood"]]})
    assert tagged.status_code == 200, tagged.text
    check()
    renamed = patch(
        world.admin, f"/v1/taxonomy-terms/{world.needs['low-mood']}", {"name": "Feeling low"}
    )
    assert renamed.status_code == 200, renamed.text
    check()


def _change_capacity(world: World, session, check) -> None:
    world.set_capacity(status="paused", pause_reason="staff_capacity")
    check()
    world.set_capacity(status="open", maximum=10)
    check()


def _assure(world: World, session, check) -> None:
    assure(session, world.admin, world.organisation["id"])
    check()


def _close_and_reopen(world: World, session, check) -> None:
    path = f"/v1/organisations/{world.organisation['id']}/closures"
    today = uk_today()
    whole = world.admin.post(
        path,
        json={
            "starts_on": (today + timedelta(days=20)).isoformat(),
            "ends_on": (today + timedelta(days=30)).isoformat(),
            "reason": "Closed for the summer",
        },
    )
    assert whole.status_code == 201, whole.text
    check()
    one = world.admin.post(
        path,
        json={
            "activity_id": world.activity["id"],
            "starts_on": (today + timedelta(days=2)).isoformat(),
        },
    )
    assert one.status_code == 201, one.text
    check()
    assert world.admin.delete(f"{path}/{whole.json()['id']}").status_code == 204
    check()


def _refer_and_answer(world: World, session, check) -> None:
    first = world.refer()
    assert world.move(first["id"], "accepted").status_code == 200
    check()
    second = world.refer()
    assert world.move(second["id"], "declined", reason="not_eligible").status_code == 200
    check()
    world.refer()
    check()


WRITES: dict[str, Callable[[World, Session, Callable[[], None]], None]] = {
    "activity fields": _edit_activity,
    "schedules, terms and venues": _replace_links,
    "confirm and archive an activity": _confirm_and_archive,
    "venue edited and archived": _edit_and_archive_venue,
    "organisation edited, unpublished, verified": _edit_organisation,
    "organisation archived": _archive_organisation,
    "term renamed": _curate_terms,
    "capacity": _change_capacity,
    "assurance submitted and verified": _assure,
    "referrals sent and answered": _refer_and_answer,
    "closures added and removed": _close_and_reopen,
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_the_read_model_matches_the_live_tables_after(write, session, client):
    world = build_world(session, client)
    # Met at a venue placed by its postcode, so its place rows are checked after each write.
    venue = create_venue(world.admin, name="Home Hall")
    answer = patch(world.admin, _activity_path(world), {"venue_ids": [venue["id"]]})
    assert answer.status_code == 200, answer.text
    assert_read_model_is_live(world.admin, world.link_worker)
    write(world, session, lambda: assert_read_model_is_live(world.admin, world.link_worker))


def test_a_standing_that_has_run_out_is_computed_from_the_live_tables(session, client, clock):
    """Insurance lapses on its date with nobody writing anything: the stored level says
    until when it holds, and after that the answer comes from the live tables."""
    world = build_world(session, client)
    assure(session, world.admin, world.organisation["id"])
    path = f"/v1/activities/{world.activity['id']}"
    assert world.admin.get(path).json()["assurance_level"] == "assured"
    clock.travel(timedelta(days=600))  # past the insurance's expires_on (2027-06-30)
    assert world.admin.get(path).json()["assurance_level"] == "lapsed"
    assert_read_model_is_live(world.admin)


def test_referrals_change_the_stored_responsiveness(session, client):
    world = build_world(session, client)
    world.refer()
    with Session(get_engine()) as fresh:
        row = fresh.get(OrganisationStanding, uuid.UUID(world.organisation["id"]))
        assert row is not None
        assert row.responsiveness["referrals_received"] == 1
        assert row.responsiveness_valid_until is not None
    shown = world.admin.get(f"/v1/activities/{world.activity['id']}").json()
    assert shown["responsiveness"]["referrals_received"] == 1


@pytest.mark.parametrize(
    "write",
    [_edit_activity, _replace_links, _edit_organisation, _archive_organisation, _assure],
    ids=["activity", "links", "organisation", "organisation archived", "assurance"],
)
def test_facet_rows_are_written_before_place_rows(write, session, client):
    """A transaction that changes both takes an activity's facet row before its place rows,
    so two such writes at once wait for each other instead of deadlocking."""
    world = build_world(session, client)
    venue = create_venue(world.admin, name="Home Hall")
    moved = patch(world.admin, _activity_path(world), {"venue_ids": [venue["id"]]})
    assert moved.status_code == 200, moved.text
    transactions: list[list[str]] = [[]]

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        verb, rest = statement.split(None, 1)
        target = rest.split("WHERE")[0]
        for table in ("activity_facet", "activity_place"):
            if verb.upper() in ("UPDATE", "DELETE") and table in target:
                transactions[-1].append(table)

    def committed(conn) -> None:
        transactions.append([])

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "commit", committed)
    try:
        write(world, session, lambda: None)
    finally:
        event.remove(engine, "before_cursor_execute", record)
        event.remove(engine, "commit", committed)
    both = [t for t in transactions if "activity_facet" in t and "activity_place" in t]
    assert both, transactions
    for writes in both:
        assert writes.index("activity_facet") < writes.index("activity_place"), writes
