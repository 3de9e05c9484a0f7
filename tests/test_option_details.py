"""Referral options that answer the link worker's next question without a second call
(issue #19): how to reach the activity, every schedule, every venue with its address and
accessibility; and phone, online and home-visit services offered where their
organisation serves, marked remote."""

import pytest

from tests.factories import create_activity, create_organisation, create_venue


def _options(searcher, **params) -> list[dict]:
    response = searcher.get("/v1/referral-options", params={"need": "social-isolation", **params})
    assert response.status_code == 200, response.text
    return response.json()["contents"]


@pytest.fixture
def listings(client, terms):
    easton = client.post(
        "/v1/areas", json={"kind": "ward", "name": "Easton", "places": ["BS5 6"]}
    ).json()
    city = client.post(
        "/v1/areas", json={"kind": "local_authority", "name": "Bristol", "places": ["BS5"]}
    ).json()
    organisation = create_organisation(
        client, status="published", phone="0117 496 0000", website="https://org.example.org"
    )
    hall = create_venue(
        client, name="Easton Hall", accessibility=["step_free_access", "hearing_loop"]
    )
    annex = create_venue(client, name="Easton Annex", postcode="BS5 6AA", address_1="2 Side St")
    lonely = terms["social-isolation"]
    in_person = create_activity(
        client,
        organisation["id"],
        name="Tuesday Lunch Club",
        phone="0117 496 0123",
        venue_ids=[hall["id"], annex["id"]],
        term_ids=[lonely],
        schedules=[
            {"freq": "WEEKLY", "byday": "TU", "opens_at": "12:00", "closes_at": "14:00",
             "venue_id": hall["id"]},
            {"freq": "MONTHLY", "byday": "1TH", "opens_at": "18:00", "closes_at": "20:00",
             "venue_id": annex["id"]},
        ],
    )  # fmt: skip
    befriending = create_organisation(
        client, status="published", phone="0117 496 0999", served_area_ids=[easton["id"]]
    )
    phone_line = create_activity(
        client,
        befriending["id"],
        name="Friendly Phone Calls",
        delivery_modes=["phone"],
        email="calls@befriend.example.org",
        term_ids=[lonely],
    )
    citywide = create_organisation(client, status="published", served_area_ids=[city["id"]])
    online = create_activity(
        client, citywide["id"], name="Online Chat Group", delivery_modes=["online"],
        term_ids=[lonely],
    )  # fmt: skip
    elsewhere = create_organisation(client, status="published")
    unplaced = create_activity(
        client, elsewhere["id"], name="Nationwide Line", delivery_modes=["phone"],
        term_ids=[lonely],
    )  # fmt: skip
    return {"in_person": in_person, "phone_line": phone_line, "online": online,
            "unplaced": unplaced, "hall": hall, "annex": annex}  # fmt: skip


def test_an_option_says_how_to_reach_it_when_it_meets_and_where(searcher, listings):
    [lunch] = [o for o in _options(searcher, postcode="BS5 6AW") if not o["remote"]]
    assert lunch["activity"]["id"] == listings["in_person"]["id"]
    # The activity's own phone first, its organisation's website where it has none.
    assert lunch["contact"] == {
        "phone": "0117 496 0123",
        "email": None,
        "website": "https://org.example.org",
    }
    assert [(s["freq"], s["byday"], s["opens_at"]) for s in lunch["schedules"]] == [
        ("MONTHLY", "1TH", "18:00:00"),
        ("WEEKLY", "TU", "12:00:00"),
    ]
    venues = {v["name"]: v for v in lunch["venues"]}
    assert set(venues) == {"Easton Hall", "Easton Annex"}
    assert venues["Easton Hall"]["accessibility"] == ["step_free_access", "hearing_loop"]
    assert (venues["Easton Annex"]["address_1"], venues["Easton Annex"]["postcode"]) == (
        "2 Side St",
        "BS5 6AA",
    )
    assert lunch["remote"] is False


def test_remote_services_are_offered_where_their_organisation_serves(searcher, listings):
    found = {o["activity"]["name"]: o for o in _options(searcher, postcode="BS5 6AW")}
    assert set(found) == {"Tuesday Lunch Club", "Friendly Phone Calls", "Online Chat Group"}
    phone = found["Friendly Phone Calls"]
    assert (phone["remote"], phone["distance_km"], phone["venues"]) == (True, None, [])
    assert phone["contact"] == {
        "phone": "0117 496 0999",
        "email": "calls@befriend.example.org",
        "website": None,
    }
    # Another sector of the district: the city-wide service, not the ward's.
    other_sector = {o["activity"]["name"] for o in _options(searcher, postcode="BS5 0HE")}
    assert "Friendly Phone Calls" not in other_sector
    assert "Online Chat Group" in other_sector
    # A district alone: only areas holding the whole district serve it.
    district = {o["activity"]["name"] for o in _options(searcher, postcode="BS5")}
    assert {"Online Chat Group"} <= district and "Friendly Phone Calls" not in district
    # Nowhere they serve.
    assert all(not o["remote"] for o in _options(searcher, postcode="LS1 4AP", radius_km=50))
    # The switch leaves them out; include_online still lists every service with no venue.
    left_out = _options(searcher, postcode="BS5 6AW", include_remote="false")
    assert [o["activity"]["name"] for o in left_out] == ["Tuesday Lunch Club"]
    everything = {
        o["activity"]["name"] for o in _options(searcher, postcode="BS5 6AW", include_online="true")
    }
    assert "Nationwide Line" in everything
