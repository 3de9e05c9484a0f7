"""Anonymous callers see published listings only; members see their own organisations in
any state; stewards and admins see everything. Hidden things answer 404, not 403."""

import pytest

from app.accounts.models import GlobalRole
from tests.factories import client_for, create_activity, create_organisation, ids, make_user, patch


@pytest.fixture
def listings(client):
    published = create_organisation(client, status="published")
    draft = create_organisation(client, status="draft")
    suspended = create_organisation(client, status="suspended")
    return {
        "published": (published, create_activity(client, published["id"])),
        "draft": (draft, create_activity(client, draft["id"])),
        "suspended": (suspended, create_activity(client, suspended["id"])),
    }


def _seen(caller, listings):
    organisations = ids(caller.get("/v1/organisations").json())
    activities = ids(caller.get("/v1/activities").json())
    return {
        name
        for name, (organisation, activity) in listings.items()
        if organisation["id"] in organisations and activity["id"] in activities
    }


def test_anonymous_and_link_workers_see_published_only(anon, session, listings):
    link_worker = client_for(make_user(session, role=GlobalRole.link_worker))
    for caller in (anon, link_worker):
        assert _seen(caller, listings) == {"published"}
        for name in ("draft", "suspended"):
            organisation, activity = listings[name]
            assert caller.get(f"/v1/organisations/{organisation['id']}").status_code == 404
            assert caller.get(f"/v1/activities/{activity['id']}").status_code == 404


def test_members_see_their_own_drafts_but_not_others(session, listings):
    draft, draft_activity = listings["draft"]
    member = client_for(make_user(session, member_of={draft["id"]: "editor"}))
    assert _seen(member, listings) == {"published", "draft"}
    other = client_for(make_user(session, member_of={listings["published"][0]["id"]: "admin"}))
    assert _seen(other, listings) == {"published"}
    # Changing another organisation's hidden listing reveals nothing: 404, not 403.
    response = other.post(f"/v1/activities/{draft_activity['id']}/archive")
    assert response.status_code == 404


def test_stewards_see_everything(session, listings):
    steward = client_for(make_user(session, role=GlobalRole.steward))
    assert _seen(steward, listings) == {"published", "draft", "suspended"}


def test_archived_activities_are_hidden_from_the_public(client, anon, listings):
    _, activity = listings["published"]
    client.post(f"/v1/activities/{activity['id']}/archive")
    assert anon.get(f"/v1/activities/{activity['id']}").status_code == 404
    assert anon.get("/v1/activities", params={"include_archived": True}).json()["empty"]


def test_hidden_organisation_cannot_take_activities_from_outsiders(session, listings):
    draft, _ = listings["draft"]
    outsider = client_for(make_user(session))
    response = outsider.post("/v1/activities", json={"organisation_id": draft["id"], "name": "X"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.organisation_id"


# --- fields only stewards may set (no mass assignment) --------------------------------------


def test_editors_publish_but_only_stewards_suspend(client, session):
    organisation = create_organisation(client, status="draft")
    path = f"/v1/organisations/{organisation['id']}"
    editor = client_for(make_user(session, member_of={organisation["id"]: "editor"}))
    assert patch(editor, path, {"status": "published"}).status_code == 200
    refused = patch(editor, path, {"status": "suspended"})
    assert refused.status_code == 403
    assert client.get(path).json()["status"] == "published"

    steward = client_for(make_user(session, role=GlobalRole.steward))
    assert patch(steward, path, {"status": "suspended"}).status_code == 200
    assert patch(editor, path, {"status": "published"}).status_code == 403
    assert client.get(path).json()["status"] == "suspended"


def test_read_only_fields_cannot_be_sent(client, session):
    organisation = create_organisation(client, status="published")
    activity = create_activity(client, organisation["id"])
    editor = client_for(make_user(session, member_of={organisation["id"]: "admin"}))
    for path, field, value in (
        (f"/v1/organisations/{organisation['id']}", "verified_at", "2026-01-01T00:00:00Z"),
        (f"/v1/organisations/{organisation['id']}", "id", organisation["id"]),
        (f"/v1/organisations/{organisation['id']}", "version", 99),
        (f"/v1/activities/{activity['id']}", "organisation_id", organisation["id"]),
        (f"/v1/activities/{activity['id']}", "archived_at", None),
    ):
        before = client.get(path).json()
        response = patch(editor, path, {field: value})
        assert response.status_code == 422, (path, field)
        assert response.json()["errors"][0]["field"] == f"body.{field}"
        assert client.get(path).json() == before


def test_stewards_verify_organisations(client, session):
    organisation = create_organisation(client, status="published")
    path = f"/v1/organisations/{organisation['id']}/verify"
    editor = client_for(make_user(session, member_of={organisation["id"]: "admin"}))
    assert editor.post(path).status_code == 403
    steward = client_for(make_user(session, role=GlobalRole.steward))
    verified = steward.post(path)
    assert verified.status_code == 200
    assert verified.json()["verified_at"] is not None
