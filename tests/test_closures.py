"""Closures, bank holidays and pauses (issue #19): organisations and activities say when
they do not meet; ``next_session`` skips those days (in UK local time, across the clock
changes), results and summaries say why, and only the organisation's people and stewards
may change them."""

from datetime import UTC, date, datetime, timedelta

import pytest

from app.accounts.models import GlobalRole
from tests.factories import create_activity, create_organisation, patch


def travel_to(clock, moment: datetime) -> None:
    """Put Signpost's clock at ``moment`` (timezone-aware)."""
    clock.travel(moment - clock.now())


def option(searcher, activity_id: str, **params) -> dict:
    answer = searcher.get("/v1/referral-options", params={"per_page": 100, **params})
    assert answer.status_code == 200, answer.text
    [found] = [o for o in answer.json()["contents"] if o["activity"]["id"] == activity_id]
    return found


def close(client, organisation_id: str, **body):
    return client.post(f"/v1/organisations/{organisation_id}/closures", json=body)


@pytest.fixture
def walk(client):
    """A published organisation's Tuesday walk, 10:00 to 12:00, entered through the API."""
    organisation = create_organisation(client, status="published")
    activity = create_activity(client, organisation["id"], name="Tuesday Walk")
    return organisation, activity


# Tuesday 1 December 2026, 08:00 UK time (GMT): the walk's next session is today at 10:00.
TUESDAY = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_a_closure_moves_next_session_and_says_why(client, searcher, clock, walk):
    organisation, activity = walk
    travel_to(clock, TUESDAY)
    assert option(searcher, activity["id"])["next_session"]["starts_at"].startswith(
        "2026-12-01T10:00:00"
    )
    made = close(
        client,
        organisation["id"],
        starts_on="2026-12-01",
        ends_on="2026-12-14",
        reason="Closed for repairs",
    )
    assert made.status_code == 201, made.text
    assert made.json()["activity_id"] is None
    found = option(searcher, activity["id"])
    assert found["next_session"]["starts_at"].startswith("2026-12-15T10:00:00")
    [notice] = found["closures"]
    assert notice == {
        "kind": "closure",
        "starts_on": "2026-12-01",
        "ends_on": "2026-12-14",
        "reason": "Closed for repairs",
        "summary": "No session 1 Dec \N{EN DASH} 14 Dec (Closed for repairs)",
    }
    # The activity itself shows its closures too, and the closure list has it.
    shown = client.get(f"/v1/activities/{activity['id']}").json()["closures"]
    assert [(c["starts_on"], c["ends_on"]) for c in shown] == [("2026-12-01", "2026-12-14")]
    # Reopened: the session is back at once.
    path = f"/v1/organisations/{organisation['id']}/closures/{made.json()['id']}"
    assert client.delete(path).status_code == 204
    assert option(searcher, activity["id"])["next_session"]["starts_at"].startswith(
        "2026-12-01T10:00:00"
    )
    assert option(searcher, activity["id"])["closures"] == []
    assert client.delete(path).status_code == 404


def test_a_single_date_closes_one_activity_only(client, searcher, clock, walk):
    organisation, activity = walk
    other = create_activity(client, organisation["id"], name="Tuesday Knit")
    travel_to(clock, TUESDAY)
    made = close(client, organisation["id"], activity_id=activity["id"], starts_on="2026-12-08")
    assert made.status_code == 201, made.text
    assert made.json()["ends_on"] == "2026-12-08"
    travel_to(clock, TUESDAY + timedelta(days=1))  # Wednesday: next Tuesday is the 8th
    assert option(searcher, activity["id"])["next_session"]["starts_at"].startswith("2026-12-15")
    assert option(searcher, other["id"])["next_session"]["starts_at"].startswith("2026-12-08")
    assert option(searcher, activity["id"])["closures"][0]["summary"] == (
        "No session on 8 Dec (closed)"
    )


def test_next_session_skips_closures_across_the_clock_change(client, searcher, clock):
    """The clocks go forward on Sunday 28 March 2027: a Sunday 10:00 session after a
    closure on the 21st is at 10:00 BST, 09:00 UTC."""
    organisation = create_organisation(client, status="published")
    sunday = create_activity(
        client,
        organisation["id"],
        schedules=[{"freq": "WEEKLY", "byday": "SU", "opens_at": "10:00", "closes_at": "11:00"}],
    )
    travel_to(clock, datetime(2027, 3, 15, 12, 0, tzinfo=UTC))
    assert close(client, organisation["id"], starts_on="2027-03-21").status_code == 201
    upcoming = option(searcher, sunday["id"])["next_session"]
    starts = datetime.fromisoformat(upcoming["starts_at"])
    assert starts.astimezone(UTC) == datetime(2027, 3, 28, 9, 0, tzinfo=UTC)
    # And back in the autumn (31 October 2027, clocks go back): 10:00 GMT is 10:00 UTC.
    travel_to(clock, datetime(2027, 10, 20, 12, 0, tzinfo=UTC))
    assert close(client, organisation["id"], starts_on="2027-10-24").status_code == 201
    upcoming = option(searcher, sunday["id"])["next_session"]
    starts = datetime.fromisoformat(upcoming["starts_at"])
    assert starts.astimezone(UTC) == datetime(2027, 10, 31, 10, 0, tzinfo=UTC)


def test_bank_holidays_are_skipped_unless_the_activity_runs_on_them(client, searcher, clock):
    """Monday 3 May 2027 is the early May bank holiday in England and Wales."""
    organisation = create_organisation(client, status="published")
    monday = {"freq": "WEEKLY", "byday": "MO", "opens_at": "10:00", "closes_at": "12:00"}
    skips = create_activity(client, organisation["id"], schedules=[monday])
    runs = create_activity(
        client, organisation["id"], schedules=[monday], runs_on_bank_holidays=True
    )
    travel_to(clock, datetime(2027, 4, 30, 12, 0, tzinfo=UTC))
    skipping = option(searcher, skips["id"])
    assert skipping["next_session"]["starts_at"].startswith("2027-05-10T10:00:00")
    assert skipping["closures"][0]["kind"] == "bank_holiday"
    assert skipping["closures"][0]["starts_on"] == "2027-05-03"
    assert skipping["closures"][0]["summary"] == "No session on 3 May (May Day)"
    running = option(searcher, runs["id"])
    assert running["next_session"]["starts_at"].startswith("2027-05-03T10:00:00")
    assert running["closures"] == []
    # Easter Monday (29 March 2027) as well, and the switch can be turned off again.
    travel_to(clock, datetime(2027, 3, 26, 12, 0, tzinfo=UTC))
    assert option(searcher, skips["id"])["next_session"]["starts_at"].startswith("2027-04-05")
    changed = patch(client, f"/v1/activities/{runs['id']}", {"runs_on_bank_holidays": False})
    assert changed.status_code == 200, changed.text
    assert changed.json()["runs_on_bank_holidays"] is False
    assert option(searcher, runs["id"])["next_session"]["starts_at"].startswith("2027-04-05")


def test_a_day_filter_finds_the_first_session_that_is_not_closed(client, searcher, clock):
    organisation = create_organisation(client, status="published")
    twice = create_activity(
        client,
        organisation["id"],
        schedules=[{"freq": "WEEKLY", "byday": "TU,TH", "opens_at": "10:00", "closes_at": "12:00"}],
    )
    travel_to(clock, TUESDAY)  # Tuesday 1 December, 08:00
    assert close(client, organisation["id"], starts_on="2026-12-01").status_code == 201
    assert option(searcher, twice["id"])["next_session"]["starts_at"].startswith("2026-12-03")
    on_tuesdays = option(searcher, twice["id"], day="TU")["next_session"]
    assert on_tuesdays["starts_at"].startswith("2026-12-08")


def test_a_pause_with_an_end_moves_next_session_past_it(client, searcher, clock, walk):
    _, activity = walk
    travel_to(clock, TUESDAY)
    path = f"/v1/activities/{activity['id']}/capacity"
    paused = patch(
        client,
        path,
        {"status": "paused", "pause_reason": "holiday", "paused_until": "2026-12-10T00:00:00Z"},
    )
    assert paused.status_code == 200, paused.text
    found = option(searcher, activity["id"])
    assert found["next_session"]["starts_at"].startswith("2026-12-15T10:00:00")
    assert found["closures"][0]["kind"] == "pause"
    assert found["closures"][0]["summary"] == "Paused until 10 Dec (holiday)"
    # Paused until further notice: no next session to offer.
    assert patch(client, path, {"paused_until": None}).status_code == 200
    found = option(searcher, activity["id"])
    assert found["next_session"] is None
    assert found["closures"][0]["summary"] == "Paused until further notice (holiday)"


def test_sorting_by_next_session_respects_closures(client, searcher, clock):
    organisation = create_organisation(client, status="published")
    closed_org = create_organisation(client, status="published")
    open_one = create_activity(
        client,
        organisation["id"],
        schedules=[{"freq": "WEEKLY", "byday": "TH", "opens_at": "10:00", "closes_at": "11:00"}],
    )
    closed_one = create_activity(client, closed_org["id"])  # Tuesdays
    travel_to(clock, TUESDAY)
    order = [
        o["activity"]["id"]
        for o in searcher.get("/v1/referral-options", params={"sort": "next_session"}).json()[
            "contents"
        ]
    ]
    assert order.index(closed_one["id"]) < order.index(open_one["id"])
    assert (
        close(client, closed_org["id"], starts_on="2026-12-01", ends_on="2026-12-07").status_code
        == 201
    )
    order = [
        o["activity"]["id"]
        for o in searcher.get("/v1/referral-options", params={"sort": "next_session"}).json()[
            "contents"
        ]
    ]
    assert order.index(open_one["id"]) < order.index(closed_one["id"])


def test_the_take_away_summary_says_when_it_is_closed(client, searcher, clock, walk):
    organisation, activity = walk
    travel_to(clock, TUESDAY)
    close(
        client, organisation["id"], starts_on="2026-12-22", ends_on="2027-01-04", reason="Christmas"
    )
    text = searcher.get(f"/v1/referral-options/{activity['id']}/summary").text
    assert "When: Tuesday 1 December, 10am to 12 noon." in text
    assert "No session 22 Dec \N{EN DASH} 4 Jan 2027 (Christmas)." in text
    pdf = searcher.get(f"/v1/referral-options/{activity['id']}/summary", params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_past_closures_drop_out_of_listings_but_stay_on_request(client, clock, walk):
    organisation, activity = walk
    travel_to(clock, TUESDAY)
    assert close(client, organisation["id"], starts_on="2026-12-02").status_code == 201
    path = f"/v1/organisations/{organisation['id']}/closures"
    assert len(client.get(path).json()) == 1
    clock.travel(timedelta(days=3))
    assert client.get(path).json() == []
    assert len(client.get(path, params={"include_past": True}).json()) == 1
    assert client.get(f"/v1/activities/{activity['id']}").json()["closures"] == []


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"starts_on": "2026-12-10", "ends_on": "2026-12-01"}, "ends_on", "before starts_on"),
        ({"starts_on": "2026-01-01", "ends_on": "2027-06-01"}, "ends_on", "at most 366 days"),
        ({"starts_on": "1 December"}, "starts_on", ""),
        ({"starts_on": "2026-12-01", "reason": "x" * 201}, "reason", ""),
        ({"starts_on": "2026-12-01", "colour": "red"}, "colour", ""),
        ({}, "starts_on", ""),
    ],
)
def test_bad_closures_are_refused_naming_the_field(client, walk, body, field, says):
    organisation, _ = walk
    answer = close(client, organisation["id"], **body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    [error] = [e for e in answer.json()["errors"] if e["field"].endswith(field)]
    assert says in error["message"]
    assert client.get(f"/v1/organisations/{organisation['id']}/closures").json() == []


def test_another_organisations_activity_cannot_be_closed(client, walk):
    organisation, _ = walk
    elsewhere = create_organisation(client, status="published")
    theirs = create_activity(client, elsewhere["id"])
    answer = close(client, organisation["id"], activity_id=theirs["id"], starts_on="2026-12-10")
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.activity_id"


def test_who_may_close(session, client, as_role, anon, walk):
    organisation, _ = walk
    body = {"starts_on": "2027-01-05"}
    member = as_role(member_of={organisation["id"]: "editor"})
    made = close(member, organisation["id"], **body)
    assert made.status_code == 201, made.text
    path = f"/v1/organisations/{organisation['id']}/closures"
    # Anyone may read a published organisation's closures, as they may read its listings.
    assert [c["id"] for c in anon.get(path).json()] == [made.json()["id"]]
    other = create_organisation(client, status="published")
    outsider = as_role(member_of={other["id"]: "editor"})
    for caller in (outsider, as_role(GlobalRole.link_worker), as_role(GlobalRole.commissioner)):
        assert close(caller, organisation["id"], **body).status_code == 403
        assert caller.delete(f"{path}/{made.json()['id']}").status_code == 403
    assert close(anon, organisation["id"], **body).status_code == 401
    assert close(as_role(GlobalRole.steward), organisation["id"], **body).status_code == 201
    # Someone else's closure id under this organisation is not found.
    theirs = close(client, other["id"], **body).json()
    assert member.delete(f"{path}/{theirs['id']}").status_code == 404
    assert client.get(f"/v1/organisations/{other['id']}/closures").json()[0]["id"] == theirs["id"]
    # A draft organisation's closures are invisible outside it.
    draft = create_organisation(client, status="draft")
    assert close(client, draft["id"], **body).status_code == 201
    assert anon.get(f"/v1/organisations/{draft['id']}/closures").status_code == 404
    assert outsider.get(f"/v1/organisations/{draft['id']}/closures").status_code == 404


def test_closures_are_audited(client, walk):
    organisation, _ = walk
    made = close(client, organisation["id"], starts_on="2027-01-05", reason="Staff training")
    entries = client.get("/v1/audit", params={"object_type": "closure"}).json()["contents"]
    assert [e["object_id"] for e in entries] == [made.json()["id"]]
    assert entries[0]["changes"]["reason"]["after"] == "Staff training"
    assert entries[0]["organisation_id"] == organisation["id"]
    assert date.fromisoformat(made.json()["starts_on"]) == date(2027, 1, 5)
