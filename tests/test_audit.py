from datetime import UTC, datetime

from sqlmodel import select

from app.accounts.models import GlobalRole, User
from app.audit.models import AuditEntry
from tests.factories import (
    client_for,
    create_activity,
    create_organisation,
    key_client,
    make_api_key,
    make_user,
    patch,
)


def test_every_write_is_recorded_with_who_and_what(client, session):
    admin_id = client.get("/v1/me").json()["id"]
    organisation = create_organisation(client, name="Before", status="published")
    patch(client, f"/v1/organisations/{organisation['id']}", {"name": "After"})
    activity = create_activity(client, organisation["id"])
    client.post(f"/v1/organisations/{organisation['id']}/archive")

    entries = [
        entry
        for entry in client.get("/v1/audit", params={"per_page": 100}).json()["contents"]
        if entry["object_type"] in ("organisation", "activity")
    ]
    recorded = [(e["action"], e["object_type"]) for e in reversed(entries)]
    assert recorded == [
        ("create", "organisation"),
        ("update", "organisation"),
        ("create", "activity"),
        ("archive", "organisation"),
        ("archive", "activity"),
    ]
    assert {(e["actor_type"], e["actor_id"]) for e in entries} == {("user", admin_id)}
    rename = next(e for e in entries if e["action"] == "update")
    assert rename["changes"] == {"name": {"before": "Before", "after": "After"}}
    created = next(e for e in entries if e["object_type"] == "activity" and e["action"] == "create")
    assert created["object_id"] == activity["id"]
    assert created["organisation_id"] == organisation["id"]
    assert created["changes"]["name"]["after"] == activity["name"]
    assert created["changes"]["schedules"]["added"] == [activity["schedules"][0]["id"]]


def test_api_key_writes_are_attributed_to_the_key(client, session):
    organisation = create_organisation(client, status="published")
    key = make_api_key(session, organisation_id=organisation["id"], organisation_role="editor")
    response = key_client(key).post(
        "/v1/activities", json={"organisation_id": organisation["id"], "name": "Via key"}
    )
    assert response.status_code == 201
    entry = client.get("/v1/audit", params={"object_id": response.json()["id"]}).json()["contents"][
        0
    ]
    assert entry["actor_type"] == "api_key"
    assert entry["actor_id"] == key_client(key).get("/v1/me").json()["id"]


def test_secrets_and_personal_data_never_reach_the_log(client, session):
    invited = client.post(
        "/v1/invitations", json={"email": "private.person@test.example", "role": "link_worker"}
    )
    assert invited.status_code == 201
    signed_up = client_for(None).post(
        "/v1/auth/sign-up",
        json={
            "email": "private.person@test.example",
            "display_name": "Private Person",
            "password": "a very secret passphrase",
        },
    )
    assert signed_up.status_code == 202
    created = {
        "id": str(session.exec(select(User.id).where(User.display_name == "Private Person")).one())
    }
    client.patch(f"/v1/users/{created['id']}", json={"display_name": "Renamed Person"})
    key = client.post("/v1/api-keys", json={"name": "k", "role": "commissioner"}).json()["key"]

    stored = repr([e.changes for e in session.exec(select(AuditEntry)).all()])
    for secret in (
        "private.person",
        "Private Person",
        "Renamed Person",
        "a very secret passphrase",
        "argon2",
        key.split("_", 2)[2],
    ):
        assert secret not in stored
    user_entries = client.get("/v1/audit", params={"object_type": "user"}).json()["contents"]
    rename = next(e for e in user_entries if e["action"] == "update")
    assert rename["changes"]["display_name"] == {"before": "[redacted]", "after": "[redacted]"}


def test_organisation_admins_see_only_their_organisations_entries(client, session):
    mine = create_organisation(client, status="published")
    theirs = create_organisation(client, status="published")
    create_activity(client, mine["id"])
    create_activity(client, theirs["id"])
    org_admin = client_for(make_user(session, member_of={mine["id"]: "admin"}))
    seen = org_admin.get("/v1/audit", params={"per_page": 100}).json()["contents"]
    assert seen and {e["organisation_id"] for e in seen} == {mine["id"]}
    asked_for_theirs = org_admin.get("/v1/audit", params={"organisation": theirs["id"]}).json()
    assert asked_for_theirs["total_items"] == 0

    editor = client_for(make_user(session, member_of={mine["id"]: "editor"}))
    assert editor.get("/v1/audit").status_code == 403
    link_worker = client_for(make_user(session, role=GlobalRole.link_worker))
    assert link_worker.get("/v1/audit").status_code == 403


def test_filters_narrow_the_log(client):
    start = datetime.now(UTC).isoformat()
    first = create_organisation(client)
    second = create_organisation(client)
    client.post(f"/v1/organisations/{second['id']}/archive")

    def count(**params):
        return client.get("/v1/audit", params=params).json()["total_items"]

    assert count(object_id=first["id"]) == 1
    assert count(action="archive") == 1
    assert count(object_type="organisation", since=start) == 3
    assert count(object_type="organisation", until=start) == 0


def test_referrals_and_support_threads_are_audited_without_personal_data(client, session):
    from tests.referral_world import build_world

    world = build_world(session, client)
    referral = world.refer()
    accepted = world.move(referral["id"], "accepted", note="Called Sam on 07700 900123")
    assert accepted.status_code == 200
    need = world.provider.post(
        f"/v1/organisations/{world.organisation['id']}/support-needs",
        json={
            "category_id": world.needs["volunteers"],
            "urgency": "high",
            "description": "Short of volunteers",
        },
    ).json()
    message = world.provider.post(
        f"/v1/support-needs/{need['id']}/messages", json={"body": "Anyone free on Tuesdays?"}
    )
    assert message.status_code == 201
    acknowledged = world.steward.post(
        f"/v1/support-needs/{need['id']}/transitions", json={"status": "acknowledged"}
    )
    assert acknowledged.status_code == 200

    log = client.get("/v1/audit", params={"per_page": 100})
    entries = log.json()["contents"]
    about_referral = [e for e in entries if e["object_id"] == referral["id"]]
    actions = sorted(e["action"] for e in about_referral if e["action"] != "read")
    assert actions == ["create", "transition"]
    moved = next(e for e in about_referral if e["action"] == "transition")
    assert moved["changes"]["status"] == {"before": "sent", "after": "accepted"}
    assert moved["changes"]["note"] == {"after": "[redacted]"}
    assert moved["organisation_id"] == world.organisation["id"]
    assert any(e["object_type"] == "support_message" for e in entries)
    assert any(
        e["object_id"] == need["id"]
        and e["changes"].get("status", {}).get("after") == "acknowledged"
        for e in entries
    )
    for secret in ("07700 900123", "LW-2291", "Sam", "quieter group", "Tuesdays"):
        assert secret not in log.text


def test_the_log_can_be_filtered_by_every_kind_of_object_it_records():
    """A new audited model joins the ``object_type`` filter, or this fails."""
    from sqlmodel import SQLModel

    import app.models  # noqa: F401 - every table
    from app.audit.router import AuditObjectType
    from app.core.db import metadata

    audited = {
        mapper.class_.__audit__
        for mapper in SQLModel._sa_registry.mappers
        if hasattr(mapper.class_, "__audit__") and mapper.local_table.metadata is metadata
    }
    assert "closure" in audited
    assert audited <= {kind.value for kind in AuditObjectType}
