from datetime import UTC, datetime, timedelta

from tests.factories import create_activity, create_organisation, ids, organisation_body, patch

PROBLEM = "application/problem+json"


def test_create_returns_the_stored_organisation(client):
    body = organisation_body(
        name="Easton Community Choir",
        charity_number="1187654",
        email="hello@choir.example.org",
        areas_served=["Bristol", "BS5"],
    )
    created = client.post("/v1/organisations", json=body)
    assert created.status_code == 201
    organisation = created.json()
    assert organisation["status"] == "draft"
    assert organisation["archived_at"] is None
    fetched = client.get(f"/v1/organisations/{organisation['id']}").json()
    assert fetched == organisation
    assert fetched["areas_served"] == ["Bristol", "BS5"]
    assert fetched["charity_number"] == "1187654"


def test_list_uses_the_page_envelope(client):
    for name in ("Alpha", "Bravo", "Charlie"):
        create_organisation(client, name=name)
    first = client.get("/v1/organisations", params={"per_page": 2}).json()
    assert {k: first[k] for k in first if k != "contents"} == {
        "total_items": 3,
        "total_is_estimate": False,
        "total_pages": 2,
        "page_number": 1,
        "size": 2,
        "first_page": True,
        "last_page": False,
        "empty": False,
    }
    assert [o["name"] for o in first["contents"]] == ["Alpha", "Bravo"]
    second = client.get("/v1/organisations", params={"per_page": 2, "page": 2}).json()
    assert [o["name"] for o in second["contents"]] == ["Charlie"]
    assert second["last_page"] is True and second["first_page"] is False
    beyond = client.get("/v1/organisations", params={"per_page": 2, "page": 9})
    assert beyond.status_code == 200
    assert beyond.json()["empty"] is True and beyond.json()["contents"] == []


def test_list_filters_and_sorts(client):
    charity = create_organisation(client, name="Aardvark Trust", status="published")
    cic = create_organisation(client, name="Zebra CIC", legal_form="cic", status="published")
    draft = create_organisation(client, name="Middle Group", legal_form="community_group")

    published = client.get("/v1/organisations", params={"status": "published"}).json()
    assert ids(published) == {charity["id"], cic["id"]}
    cics = client.get("/v1/organisations", params={"legal_form": "cic"}).json()
    assert ids(cics) == {cic["id"]}
    by_name_desc = client.get("/v1/organisations", params={"sort": "-name"}).json()
    assert [o["id"] for o in by_name_desc["contents"]] == [cic["id"], draft["id"], charity["id"]]


def test_modified_after_returns_only_later_changes(client):
    old = create_organisation(client)
    cutoff = datetime.now(UTC)
    changed = create_organisation(client)
    page = client.get("/v1/organisations", params={"modified_after": cutoff.isoformat()}).json()
    assert ids(page) == {changed["id"]}
    before = (cutoff - timedelta(hours=1)).isoformat()
    assert ids(client.get("/v1/organisations", params={"modified_after": before}).json()) == {
        old["id"],
        changed["id"],
    }


def test_patch_changes_only_the_fields_sent(client):
    organisation = create_organisation(client, phone="0117 496 0001", website="https://a.example")
    response = patch(
        client, f"/v1/organisations/{organisation['id']}", json={"phone": "0117 496 0999"}
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["phone"] == "0117 496 0999"
    assert updated["website"] == "https://a.example"
    assert updated["name"] == organisation["name"]
    assert updated["updated_at"] > organisation["updated_at"]
    cleared = patch(client, f"/v1/organisations/{organisation['id']}", json={"website": None})
    assert cleared.json()["website"] is None


def test_patch_refuses_null_for_a_required_field(client):
    organisation = create_organisation(client)
    response = patch(client, f"/v1/organisations/{organisation['id']}", json={"name": None})
    assert response.status_code == 422
    assert "name cannot be null" in response.json()["detail"]
    assert client.get(f"/v1/organisations/{organisation['id']}").json() == organisation


def test_archiving_an_organisation_archives_its_activities(client):
    organisation = create_organisation(client)
    other = create_organisation(client)
    activity = create_activity(client, organisation["id"])
    untouched = create_activity(client, other["id"])

    archived = client.post(f"/v1/organisations/{organisation['id']}/archive")
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None

    assert ids(client.get("/v1/organisations").json()) == {other["id"]}
    assert ids(client.get("/v1/activities").json()) == {untouched["id"]}
    everything = client.get("/v1/activities", params={"include_archived": True}).json()
    assert ids(everything) == {activity["id"], untouched["id"]}
    assert client.get(f"/v1/activities/{activity['id']}").json()["archived_at"] is not None

    again = client.post(f"/v1/organisations/{organisation['id']}/archive")
    assert again.json()["archived_at"] == archived.json()["archived_at"]


def test_archived_organisation_cannot_be_changed_or_given_activities(client):
    organisation = create_organisation(client)
    client.post(f"/v1/organisations/{organisation['id']}/archive")
    refused = patch(client, f"/v1/organisations/{organisation['id']}", json={"name": "New"})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    new_activity = client.post(
        "/v1/activities",
        json={"organisation_id": organisation["id"], "name": "Late addition"},
    )
    assert new_activity.status_code == 409
    assert client.get("/v1/activities", params={"include_archived": True}).json()["empty"]


def test_unknown_organisation_is_a_problem_404(client):
    response = client.get("/v1/organisations/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404
