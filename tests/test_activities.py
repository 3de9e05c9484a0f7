from datetime import UTC, datetime

import pytest

from app.vocabulary.seed import seed_vocabulary
from tests.factories import (
    activity_body,
    create_activity,
    create_organisation,
    create_venue,
    ids,
    patch,
)


@pytest.fixture
def terms(session):
    found = seed_vocabulary(session)
    session.commit()
    return {code: str(term.id) for code, term in found.items()}


def test_create_with_schedules_terms_and_venues(client, terms):
    organisation = create_organisation(client, name="Easton Arts")
    venue = create_venue(client, name="Easton Centre")
    body = activity_body(
        organisation["id"],
        name="Drop-in Art Studio",
        minimum_age=18,
        delivery_modes=["in_person", "online"],
        access_modes=["referral", "drop_in"],
        cost_type="fee",
        cost_amount="2.50",
        languages=["en", "pl"],
        funding_source="grant",
        does_not_suit="Not a crisis service",
        term_ids=[terms["arts-and-crafts"], terms["low-mood"]],
        venue_ids=[venue["id"]],
        schedules=[
            {"freq": "WEEKLY", "byday": "WE", "opens_at": "10:00", "closes_at": "12:30"},
            {
                "freq": "MONTHLY",
                "byday": "-1FR",
                "opens_at": "18:00",
                "closes_at": "20:00",
                "valid_from": "2026-01-01",
                "valid_to": "2026-12-31",
                "venue_id": venue["id"],
            },
        ],
    )
    response = client.post("/v1/activities", json=body)
    assert response.status_code == 201, response.text
    activity = response.json()
    assert activity["organisation"] == {
        "id": organisation["id"],
        "name": "Easton Arts",
        "status": "draft",
    }
    assert activity["cost_amount"] == "2.50"
    assert [t["code"] for t in activity["terms"]] == ["arts-and-crafts", "low-mood"]
    assert [t["taxonomy"] for t in activity["terms"]] == ["activity-category", "need"]
    assert [v["id"] for v in activity["venues"]] == [venue["id"]]
    assert sorted((s["freq"], s["byday"]) for s in activity["schedules"]) == [
        ("MONTHLY", "-1FR"),
        ("WEEKLY", "WE"),
    ]
    assert activity["last_confirmed_at"] is not None
    assert client.get(f"/v1/activities/{activity['id']}").json() == activity


def test_list_filters(client, terms):
    mine = create_organisation(client)
    theirs = create_organisation(client)
    venue = create_venue(client)
    choir = create_activity(client, mine["id"], term_ids=[terms["music-and-singing"]])
    walk = create_activity(client, mine["id"], status="temporarily closed", venue_ids=[venue["id"]])
    other = create_activity(client, theirs["id"], term_ids=[terms["befriending"]])

    def listed(**params):
        return ids(client.get("/v1/activities", params=params).json())

    assert listed(organisation=mine["id"]) == {choir["id"], walk["id"]}
    assert listed(status="temporarily closed") == {walk["id"]}
    assert listed(term=terms["music-and-singing"]) == {choir["id"]}
    assert listed(term=[terms["music-and-singing"], terms["befriending"]]) == {
        choir["id"],
        other["id"],
    }
    assert listed(venue=venue["id"]) == {walk["id"]}
    assert listed(organisation=mine["id"], status="active") == {choir["id"]}


def test_patch_replaces_lists_only_when_sent(client, terms):
    organisation = create_organisation(client)
    activity = create_activity(client, organisation["id"], term_ids=[terms["befriending"]])
    renamed = patch(client, f"/v1/activities/{activity['id']}", json={"name": "Renamed"}).json()
    assert renamed["terms"] == activity["terms"]
    assert renamed["schedules"] == activity["schedules"]

    replaced = patch(
        client,
        f"/v1/activities/{activity['id']}",
        json={
            "schedules": [
                {"freq": "MONTHLY", "byday": "1TH", "opens_at": "18:30", "closes_at": "20:00"}
            ],
            "term_ids": [terms["peer-support"], terms["bereavement"]],
        },
    ).json()
    assert [(s["freq"], s["byday"]) for s in replaced["schedules"]] == [("MONTHLY", "1TH")]
    assert {t["code"] for t in replaced["terms"]} == {"peer-support", "bereavement"}
    assert replaced["name"] == "Renamed"


def test_ages_are_checked_against_what_is_stored(client):
    organisation = create_organisation(client)
    activity = create_activity(client, organisation["id"], minimum_age=18, maximum_age=25)
    response = patch(client, f"/v1/activities/{activity['id']}", json={"minimum_age": 30})
    assert response.status_code == 422
    assert "minimum_age must not be greater than maximum_age" in response.json()["detail"]
    assert client.get(f"/v1/activities/{activity['id']}").json()["minimum_age"] == 18


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ({"freq": "WEEKLY", "byday": "1TU"}, "does not fit freq WEEKLY"),
        ({"freq": "MONTHLY", "byday": "TU"}, "does not fit freq MONTHLY"),
        ({"freq": "WEEKLY", "byday": "XX"}, "does not fit"),
        ({"opens_at": "12:00", "closes_at": "10:00"}, "closes_at must be after opens_at"),
        ({"valid_from": "2026-05-01", "valid_to": "2026-04-01"}, "valid_to must not be before"),
        ({"freq": "YEARLY"}, "Input should be 'WEEKLY' or 'MONTHLY'"),
    ],
)
def test_bad_schedules_are_refused(client, schedule, reason):
    organisation = create_organisation(client)
    body = activity_body(
        organisation["id"],
        schedules=[
            {"freq": "WEEKLY", "byday": "TU", "opens_at": "10:00", "closes_at": "12:00", **schedule}
        ],
    )
    response = client.post("/v1/activities", json=body)
    assert response.status_code == 422
    assert reason in response.json()["detail"]
    assert response.json()["errors"][0]["field"].startswith("body.schedules.0")
    assert client.get("/v1/activities").json()["total_items"] == 0


def test_unknown_references_are_named(client, terms):
    organisation = create_organisation(client)
    missing = "00000000-0000-4000-8000-000000000000"
    cases = {
        "body.organisation_id": activity_body(missing),
        "body.term_ids": activity_body(organisation["id"], term_ids=[terms["low-mood"], missing]),
        "body.venue_ids": activity_body(organisation["id"], venue_ids=[missing]),
    }
    for field, body in cases.items():
        response = client.post("/v1/activities", json=body)
        assert response.status_code == 422, field
        assert response.json()["errors"][0]["field"] == field
        assert missing in response.json()["detail"] or field == "body.organisation_id"
    assert client.get("/v1/activities").json()["total_items"] == 0


def test_schedule_venue_must_belong_to_the_activity(client):
    organisation = create_organisation(client)
    linked, elsewhere = create_venue(client), create_venue(client)
    body = activity_body(
        organisation["id"],
        venue_ids=[linked["id"]],
        schedules=[
            {
                "freq": "WEEKLY",
                "byday": "MO",
                "opens_at": "10:00",
                "closes_at": "11:00",
                "venue_id": elsewhere["id"],
            }
        ],
    )
    response = client.post("/v1/activities", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.schedules.0.venue_id"

    body["schedules"][0]["venue_id"] = linked["id"]
    activity = client.post("/v1/activities", json=body).json()
    unlink = patch(client, f"/v1/activities/{activity['id']}", json={"venue_ids": []})
    assert unlink.status_code == 422
    assert unlink.json()["errors"][0]["field"] == "body.venue_ids"


def test_archive_and_modified_after(client):
    organisation = create_organisation(client)
    kept = create_activity(client, organisation["id"])
    archived = create_activity(client, organisation["id"])
    cutoff = datetime.now(UTC).isoformat()
    response = client.post(f"/v1/activities/{archived['id']}/archive")
    assert response.status_code == 200
    assert ids(client.get("/v1/activities").json()) == {kept["id"]}
    changed = client.get(
        "/v1/activities", params={"modified_after": cutoff, "include_archived": True}
    ).json()
    assert ids(changed) == {archived["id"]}
    refused = patch(client, f"/v1/activities/{archived['id']}", json={"name": "Back"})
    assert refused.status_code == 409
