import pytest

from tests.factories import create_activity, create_organisation, create_venue, ids, patch


@pytest.mark.parametrize("written", ["bs5 6aw", "BS56AW", "BS5 6AW", "  bs5  6aw "])
def test_postcodes_are_normalised(client, written):
    venue = create_venue(client, postcode=written)
    assert venue["postcode"] == "BS5 6AW"
    assert venue["outcode"] == "BS5"


def test_invalid_postcode_is_refused_naming_the_field(client):
    response = client.post(
        "/v1/venues",
        json={"name": "X", "address_1": "1 Road", "city": "Bristol", "postcode": "NOT A CODE"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.postcode"
    assert client.get("/v1/venues").json()["total_items"] == 0


def test_coordinates_must_come_in_pairs(client):
    response = client.post(
        "/v1/venues",
        json={"name": "X", "address_1": "1", "city": "B", "postcode": "BS1 5TL", "latitude": 51.4},
    )
    assert response.status_code == 422
    assert "latitude and longitude" in response.json()["detail"]
    venue = create_venue(client)
    patched = patch(client, f"/v1/venues/{venue['id']}", json={"longitude": None})
    assert patched.status_code == 422
    assert client.get(f"/v1/venues/{venue['id']}").json()["longitude"] == venue["longitude"]


def test_filter_by_outcode_and_patch_moves_the_venue(client):
    easton = create_venue(client, postcode="BS5 6AW")
    clifton = create_venue(client, postcode="BS8 4BX")
    assert ids(client.get("/v1/venues", params={"outcode": "bs5"}).json()) == {easton["id"]}
    moved = patch(client, f"/v1/venues/{easton['id']}", json={"postcode": "bs8 1aa"}).json()
    assert (moved["postcode"], moved["outcode"]) == ("BS8 1AA", "BS8")
    assert ids(client.get("/v1/venues", params={"outcode": "BS8"}).json()) == {
        easton["id"],
        clifton["id"],
    }


def test_a_venue_is_shared_between_organisations(client):
    library = create_venue(client, name="Central Library")
    activities = [
        create_activity(client, create_organisation(client)["id"], venue_ids=[library["id"]])
        for _ in range(3)
    ]
    at_library = client.get("/v1/activities", params={"venue": library["id"]}).json()
    assert ids(at_library) == {a["id"] for a in activities}
    assert len({a["organisation"]["id"] for a in at_library["contents"]}) == 3


def test_archived_venue_is_hidden_and_cannot_take_new_activities(client):
    venue = create_venue(client)
    assert client.post(f"/v1/venues/{venue['id']}/archive").status_code == 200
    assert client.get("/v1/venues").json()["total_items"] == 0
    assert client.get("/v1/venues", params={"include_archived": True}).json()["total_items"] == 1
    organisation = create_organisation(client)
    response = client.post(
        "/v1/activities",
        json={"organisation_id": organisation["id"], "name": "X", "venue_ids": [venue["id"]]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.venue_ids"


def test_members_only_keep_venues_for_their_own_organisation(client, session):
    from tests.factories import client_for, make_user, venue_body

    mine = create_organisation(client, status="published")
    theirs = create_organisation(client, status="published")
    editor = client_for(make_user(session, member_of={mine["id"]: "editor"}))

    unmanaged = editor.post("/v1/venues", json=venue_body())
    assert unmanaged.status_code == 403
    elsewhere = editor.post("/v1/venues", json=venue_body(managed_by_organisation_id=theirs["id"]))
    assert elsewhere.status_code == 403
    assert client.get("/v1/venues").json()["total_items"] == 0

    venue = editor.post("/v1/venues", json=venue_body(managed_by_organisation_id=mine["id"]))
    assert venue.status_code == 201
    path = f"/v1/venues/{venue.json()['id']}"
    handed_over = patch(editor, path, {"managed_by_organisation_id": theirs["id"]})
    assert handed_over.status_code == 403
    assert client.get(path).json()["managed_by_organisation_id"] == mine["id"]
