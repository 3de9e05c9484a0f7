"""Capacity: what organisations set, what referrals do to it, and what everyone sees."""

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from app.capacity.models import ActivityCapacity, CapacityStatus, WhenFull
from app.capacity.rules import effective, effective_sql, week_starting
from app.cli import cli
from app.core.types import utcnow
from tests.factories import create_activity, create_venue, patch
from tests.referral_world import build_world


@pytest.fixture
def world(session, client):
    return build_world(session, client)


def _path(world):
    return f"/v1/activities/{world.activity['id']}/capacity"


def test_a_new_activity_is_open_with_places_not_counted(world, anon):
    response = anon.get(_path(world))
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    capacity = response.json()
    assert capacity["status"] == capacity["declared_status"] == "open"
    assert capacity["accepting_referrals"] is True
    assert capacity["status_reason"] is None
    assert (capacity["available"], capacity["maximum"], capacity["waiting_list_length"]) == (
        None,
        None,
        0,
    )
    assert capacity["unit"] == "places"
    assert capacity["release_places_on"] == ["did_not_attend", "completed", "withdrawn"]
    assert capacity["week_starting"] == week_starting(utcnow()).isoformat()


def test_editors_update_capacity_in_one_call_with_if_match(world):
    path = _path(world)
    assert world.provider.patch(path, json={"maximum": 10}).status_code == 428
    stale = world.provider.patch(path, json={"maximum": 10}, headers={"If-Match": '"0"'})
    assert stale.status_code == 412
    updated = world.set_capacity(maximum=10, weekly_referral_cap=3, when_full="refuse")
    assert (updated["maximum"], updated["available"]) == (10, 10)  # all places free at first
    assert updated["weekly_referral_cap"] == 3
    assert updated["when_full"] == "refuse"
    assert updated["version"] == 2


@pytest.mark.parametrize("who", ["other_org", "link_worker", "commissioner"])
def test_only_the_organisation_stewards_and_admins_change_capacity(world, who):
    response = patch(getattr(world, who), _path(world), {"maximum": 3})
    assert response.status_code == 403
    assert world.capacity()["maximum"] is None
    assert patch(world.steward, _path(world), {"maximum": 3}).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"maximum": 5, "available": 6}, "body"),
        ({"available": -1}, "body.available"),
        ({"weekly_referral_cap": 0}, "body.weekly_referral_cap"),
        ({"status": "paused"}, "body"),
        ({"pause_reason": "holiday"}, "body"),
        (
            {"status": "paused", "pause_reason": "holiday", "paused_until": "2020-01-01T00:00:00Z"},
            "body.paused_until",
        ),
        ({"status": "full"}, "body.status"),
        ({"release_places_on": ["declined"]}, "body.release_places_on.0"),
        ({"waiting_list_length": None}, "body"),
        ({"pause_note": "x" * 501}, "body.pause_note"),
    ],
)
def test_bad_capacity_is_422_and_changes_nothing(world, change, field):
    before = world.capacity()
    response = patch(world.provider, _path(world), change)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert world.capacity() == before


def test_accepting_takes_places_and_the_activity_moves_itself_to_waitlist(world):
    world.set_capacity(maximum=2)
    first, second, third = (world.refer() for _ in range(3))
    assert world.move(first["id"], "accepted").status_code == 200
    assert world.capacity()["available"] == 1
    assert world.move(second["id"], "accepted").status_code == 200
    capacity = world.capacity()
    assert (capacity["available"], capacity["status"]) == (0, "waitlist")
    assert capacity["declared_status"] == "open"
    assert "no places left" in capacity["status_reason"]

    refused = world.move(third["id"], "accepted")
    assert refused.status_code == 409
    assert "no places left" in refused.json()["detail"]
    assert world.admin.get(f"/v1/referrals/{third['id']}").json()["status"] == "sent"
    assert world.capacity()["available"] == 0

    # New referrals now join the waiting list by themselves.
    queued = world.refer()
    assert queued["status"] == "waitlisted"
    assert queued["history"][0]["reason"] == "activity_waitlist"
    assert world.capacity()["waiting_list_length"] == 1

    # A completed referral gives its place back; the queued one can then be accepted.
    assert world.move(first["id"], "attended").status_code == 200
    assert world.move(first["id"], "completed").status_code == 200
    assert world.capacity()["available"] == 1
    assert world.move(queued["id"], "accepted").status_code == 200
    capacity = world.capacity()
    assert (capacity["available"], capacity["waiting_list_length"]) == (0, 0)


def test_when_full_refuse_closes_to_new_referrals(world, session):
    world.set_capacity(maximum=1, when_full="refuse")
    accepted = world.refer()
    world.move(accepted["id"], "accepted")
    capacity = world.capacity()
    assert (capacity["status"], capacity["accepting_referrals"]) == ("closed", False)
    response = world.link_worker.post("/v1/referrals", json=world.referral_body())
    assert response.status_code == 409
    assert "no places left; new referrals are refused" in response.json()["detail"]
    assert session.execute(text("SELECT count(*) FROM referral")).scalar() == 1


def test_places_are_released_as_the_organisation_chooses(world):
    world.set_capacity(maximum=3, release_places_on=["completed"])
    no_show, withdrawn = world.refer(), world.refer()
    for referral in (no_show, withdrawn):
        world.move(referral["id"], "accepted")
    assert world.capacity()["available"] == 1
    world.move(no_show["id"], "did_not_attend")
    world.move(withdrawn["id"], "withdrawn", world.link_worker)
    assert world.capacity()["available"] == 1  # neither gives a place back here
    assert world.admin.get(f"/v1/referrals/{no_show['id']}").json()["holds_place"] is True
    world.move(no_show["id"], "completed")
    assert world.capacity()["available"] == 2
    assert world.admin.get(f"/v1/referrals/{no_show['id']}").json()["holds_place"] is False


def test_a_release_never_goes_above_the_maximum(world):
    world.set_capacity(maximum=2)
    referral = world.refer()
    world.move(referral["id"], "accepted")
    world.set_capacity(available=2)  # the organisation recounted meanwhile
    world.move(referral["id"], "withdrawn", world.link_worker)
    assert world.capacity()["available"] == 2


@pytest.mark.parametrize("when_full", ["waitlist", "refuse"])
def test_the_weekly_cap(world, when_full):
    world.set_capacity(weekly_referral_cap=2, when_full=when_full)
    assert [world.refer()["status"] for _ in range(2)] == ["sent", "sent"]
    capacity = world.capacity()
    assert capacity["referrals_this_week"] == 2
    assert "weekly referral cap of 2 reached" in capacity["status_reason"]
    response = world.link_worker.post("/v1/referrals", json=world.referral_body())
    if when_full == "waitlist":
        assert response.status_code == 201
        assert response.json()["status"] == "waitlisted"
        assert world.capacity()["referrals_this_week"] == 2
    else:
        assert response.status_code == 409
        assert "weekly referral cap of 2 reached" in response.json()["detail"]


def test_the_weekly_cap_starts_again_on_monday(world, session):
    world.set_capacity(weekly_referral_cap=1, when_full="refuse")
    world.refer()
    assert world.link_worker.post("/v1/referrals", json=world.referral_body()).status_code == 409
    # A week passes: the counter belongs to last week.
    session.execute(
        update(ActivityCapacity).values(week_starting=ActivityCapacity.week_starting - 7)
        if session.bind.dialect.name == "postgresql"
        else text("UPDATE activity_capacity SET week_starting = date(week_starting, '-7 days')")
    )
    session.commit()
    assert world.capacity()["referrals_this_week"] == 0
    assert world.refer()["status"] == "sent"
    assert world.capacity()["referrals_this_week"] == 1


def test_paused_and_closed_activities_refuse_referrals_with_the_reason(world, session):
    until = (utcnow() + timedelta(days=10)).replace(microsecond=0)
    paused = world.set_capacity(
        status="paused", pause_reason="holiday", paused_until=until.isoformat()
    )
    assert paused["status"] == "paused"
    assert paused["accepting_referrals"] is False
    response = world.link_worker.post("/v1/referrals", json=world.referral_body())
    assert response.status_code == 409
    assert "paused (holiday) until" in response.json()["detail"]

    resumed = world.set_capacity(status="open")
    assert (resumed["paused_until"], resumed["pause_reason"]) == (None, None)
    world.set_capacity(status="closed")
    response = world.link_worker.post("/v1/referrals", json=world.referral_body())
    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    assert session.execute(text("SELECT count(*) FROM referral")).scalar() == 0


def test_a_pause_ends_by_itself_and_the_sweep_records_it(world, session):
    world.set_capacity(
        status="paused",
        pause_reason="staff_capacity",
        paused_until=(utcnow() + timedelta(hours=1)).isoformat(),
    )
    # The clock moves past paused_until.
    session.execute(update(ActivityCapacity).values(paused_until=utcnow() - timedelta(minutes=1)))
    session.commit()
    capacity = world.capacity()
    assert (capacity["status"], capacity["declared_status"]) == ("open", "paused")
    assert world.refer()["status"] == "sent"

    result = CliRunner().invoke(cli, ["referrals-sweep"])
    assert result.exit_code == 0, result.output
    assert "1 paused activities reopened" in result.output
    capacity = world.capacity()
    assert (capacity["declared_status"], capacity["pause_reason"]) == ("open", None)
    history = world.provider.get(_path(world) + "/history").json()["contents"]
    ended = [c for c in history if c["cause"] == "pause_ended"]
    assert len(ended) == 1
    assert (ended[0]["status"], ended[0]["pause_reason"]) == ("open", None)


def test_history_keeps_every_change(world):
    world.set_capacity(maximum=2)
    referral = world.refer()
    world.move(referral["id"], "accepted")
    world.move(referral["id"], "withdrawn", world.link_worker)
    page = world.commissioner.get(_path(world) + "/history").json()
    assert [(c["cause"], c["available"]) for c in reversed(page["contents"])] == [
        ("created", None),
        ("updated", 2),
        ("referral_received", 2),
        ("place_taken", 1),
        ("place_released", 2),
    ]
    assert all(c["status"] == "open" for c in page["contents"])


@pytest.mark.parametrize("who", ["link_worker", "other_org"])
def test_history_is_refused_to_link_workers_and_other_organisations(world, who, anon):
    assert getattr(world, who).get(_path(world) + "/history").status_code == 403
    assert anon.get(_path(world) + "/history").status_code == 401


def test_the_python_and_sql_rules_agree(world, session):
    now = utcnow()
    this_week = week_starting(now)
    cases = itertools.product(
        list(CapacityStatus),
        [None, now - timedelta(hours=1), now + timedelta(hours=1)],
        [None, 0, 3],
        [(None, 0), (2, 2), (2, 1)],
        [this_week, this_week - timedelta(days=7)],
        list(WhenFull),
    )
    capacity = session.get(ActivityCapacity, uuid.UUID(world.activity["id"]))
    for status, until, available, (cap, count), week, when_full in cases:
        capacity.status = status
        capacity.paused_until = until if status is CapacityStatus.paused else None
        capacity.pause_reason = "holiday" if status is CapacityStatus.paused else None
        capacity.available = available
        capacity.weekly_referral_cap = cap
        capacity.referrals_this_week = count
        capacity.week_starting = week
        capacity.when_full = when_full
        session.flush()
        in_sql = session.execute(
            select(effective_sql(ActivityCapacity, now)).where(
                ActivityCapacity.activity_id == capacity.activity_id
            )
        ).scalar_one()
        assert in_sql == effective(capacity, now).status, (status, until, available, cap, week)
    session.rollback()


def test_weeks_start_on_monday_uk_time():
    # Sunday 23:30 UTC in summer is already Monday in the UK.
    assert week_starting(datetime(2026, 6, 28, 23, 30, tzinfo=UTC)) == date(2026, 6, 29)
    assert week_starting(datetime(2026, 12, 6, 23, 30, tzinfo=UTC)) == date(2026, 11, 30)


def test_listings_show_capacity(world, anon):
    world.set_capacity(maximum=4, available=1)
    listed = anon.get(f"/v1/activities/{world.activity['id']}").json()
    assert listed["capacity"]["status"] == "open"
    assert (listed["capacity"]["available"], listed["capacity"]["maximum"]) == (1, 4)
    other = create_activity(world.admin, world.organisation["id"])
    page = anon.get("/v1/activities", params={"organisation": world.organisation["id"]}).json()
    by_id = {a["id"]: a["capacity"] for a in page["contents"]}
    assert by_id[other["id"]]["available"] is None


def _options(world, **params):
    response = world.link_worker.get("/v1/referral-options", params={"per_page": 50, **params})
    assert response.status_code == 200, response.text
    return {o["activity"]["id"]: o for o in response.json()["contents"]}


def test_referral_search_shows_and_filters_by_capacity(world):
    activities = {
        name: create_activity(world.admin, world.organisation["id"], access_modes=["referral"])
        for name in ("waitlist", "paused", "full_refusing", "closed")
    }
    world.set_capacity(activities["waitlist"]["id"], status="waitlist")
    world.set_capacity(activities["paused"]["id"], status="paused", pause_reason="venue_closed")
    world.set_capacity(activities["full_refusing"]["id"], available=0, when_full="refuse")
    world.set_capacity(activities["closed"]["id"], status="closed")
    ids = {name: a["id"] for name, a in activities.items()} | {"open": world.activity["id"]}

    everything = _options(world)
    assert {name: everything[i]["capacity_status"] for name, i in ids.items()} == {
        "open": "open",
        "waitlist": "waitlist",
        "paused": "paused",
        "full_refusing": "closed",
        "closed": "closed",
    }
    assert everything[ids["paused"]]["capacity"]["status_reason"] == "paused (venue closed)"
    assert everything[ids["open"]]["responsiveness"]["referrals_received"] == 0

    accepting = _options(world, accepting_referrals="true")
    assert set(accepting) == {ids["open"], ids["waitlist"]}

    # Ranking: accepting counts 0.15 when open, half that on a waiting list, none paused.
    score = {name: everything[i]["score"] for name, i in ids.items()}
    assert score["open"] - score["waitlist"] == pytest.approx(0.075, abs=1e-4)
    assert score["waitlist"] - score["paused"] == pytest.approx(0.075, abs=1e-4)
    assert score["paused"] == score["closed"] == score["full_refusing"]


@pytest.mark.parametrize(
    ("settings", "referrals_accepted"),
    [
        ({"weekly_referral_cap": 1, "when_full": "refuse"}, 0),  # this week's one referral
        ({"maximum": 1, "when_full": "refuse"}, 1),  # the last place, taken on acceptance
    ],
    ids=["weekly cap", "last place"],
)
def test_a_located_search_drops_what_referrals_have_filled(world, settings, referrals_accepted):
    """Referrals change capacity (not only the provider): a search near the activity's
    venue (place rows, each carrying a copy of its capacity) stops offering it to
    ``accepting_referrals`` as soon as referrals fill it, and ranks it as closed."""
    venue = create_venue(world.admin)
    at_venue = create_activity(
        world.admin,
        world.organisation["id"],
        access_modes=["referral"],
        venue_ids=[venue["id"]],
    )
    world.set_capacity(at_venue["id"], **settings)
    near = {"postcode": "BS5 6AW", "radius_km": 2}
    assert at_venue["id"] in _options(world, accepting_referrals="true", **near)

    referral = world.refer(activity_id=at_venue["id"])
    for _ in range(referrals_accepted):
        assert world.move(referral["id"], "accepted").status_code == 200

    assert at_venue["id"] not in _options(world, accepting_referrals="true", **near)
    shown = _options(world, **near)[at_venue["id"]]
    assert shown["capacity_status"] == "closed"
    assert shown["distance_km"] is not None  # found through its place, not as a remote one
