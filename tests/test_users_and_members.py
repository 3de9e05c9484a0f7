from app.accounts.models import GlobalRole
from tests.factories import PASSWORD, client_for, create_organisation, make_user


def test_admin_manages_accounts(client, anon):
    created = client.post(
        "/v1/users",
        json={
            "email": "Sam@Practice.example",
            "display_name": "Sam",
            "password": "a long enough password",
            "role": "link_worker",
        },
    )
    assert created.status_code == 201
    user = created.json()
    assert user["email"] == "sam@practice.example"
    assert "password" not in user and "password_hash" not in user
    duplicate = client.post(
        "/v1/users",
        json={"email": "sam@practice.example", "display_name": "Sam", "password": "x" * 12},
    )
    assert duplicate.status_code == 409

    signed_in = anon.post(
        "/v1/auth/token",
        data={"username": "sam@practice.example", "password": "a long enough password"},
    )
    assert signed_in.status_code == 200

    changed = client.patch(f"/v1/users/{user['id']}", json={"role": "steward", "is_active": False})
    assert changed.json()["role"] == "steward" and changed.json()["is_active"] is False
    assert (
        client.get("/v1/users", params={"role": "steward", "is_active": False}).json()[
            "total_items"
        ]
        == 1
    )
    refused = anon.post(
        "/v1/auth/token",
        data={"username": "sam@practice.example", "password": "a long enough password"},
    )
    assert refused.status_code == 401


def test_short_passwords_and_bad_emails_are_refused(client):
    for body, field in (
        ({"email": "a@b.example", "display_name": "A", "password": "short"}, "body.password"),
        ({"email": "not-an-email", "display_name": "A", "password": "x" * 12}, "body.email"),
        (
            {"email": "a@b.example", "display_name": "A", "password": "x" * 12, "role": "god"},
            "body.role",
        ),
    ):
        response = client.post("/v1/users", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field


def test_changing_a_password_replaces_the_old_one(client, anon, session):
    user = make_user(session, email="pw@test.example")
    client.patch(f"/v1/users/{user.id}", json={"password": "a brand new passphrase"})
    old = anon.post("/v1/auth/token", data={"username": "pw@test.example", "password": PASSWORD})
    new = anon.post(
        "/v1/auth/token",
        data={"username": "pw@test.example", "password": "a brand new passphrase"},
    )
    assert (old.status_code, new.status_code) == (401, 200)


def test_organisation_admin_adds_and_removes_members(client, session):
    organisation = create_organisation(client, status="published")
    org_admin = client_for(make_user(session, member_of={organisation["id"]: "admin"}))
    newcomer = make_user(session, email="newcomer@test.example")
    members_path = f"/v1/organisations/{organisation['id']}/members"

    added = org_admin.post(members_path, json={"email": "newcomer@test.example"})
    assert added.status_code == 201
    assert added.json()["role"] == "editor"
    again = org_admin.post(members_path, json={"email": "newcomer@test.example"})
    assert again.status_code == 409
    unknown = org_admin.post(members_path, json={"email": "nobody@test.example"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.email"

    listed = org_admin.get(members_path).json()
    assert {m["email"] for m in listed["contents"]} >= {"newcomer@test.example"}

    newcomer_client = client_for(newcomer)
    assert newcomer_client.get("/v1/me").json()["memberships"] == [
        {"organisation_id": organisation["id"], "role": "editor"}
    ]
    assert org_admin.delete(f"{members_path}/{newcomer.id}").status_code == 204
    assert org_admin.delete(f"{members_path}/{newcomer.id}").status_code == 404
    assert newcomer_client.get("/v1/me").json()["memberships"] == []


def test_the_last_organisation_admin_stays(client, session):
    organisation = create_organisation(client, status="published")
    only_admin = make_user(session, member_of={organisation["id"]: "admin"})
    path = f"/v1/organisations/{organisation['id']}/members/{only_admin.id}"
    assert client_for(only_admin).delete(path).status_code == 409
    assert client.delete(path).status_code == 204  # a Signpost admin may


def test_members_of_another_organisation_cannot_manage_members(client, session):
    mine = create_organisation(client, status="published")
    theirs = create_organisation(client, status="draft")
    my_admin = client_for(make_user(session, member_of={mine["id"]: "admin"}))
    target = make_user(session, email="target@test.example")
    # A draft organisation they do not belong to does not exist for them.
    response = my_admin.post(
        f"/v1/organisations/{theirs['id']}/members", json={"email": target.email}
    )
    assert response.status_code == 404
    steward = client_for(make_user(session, role=GlobalRole.steward))
    assert steward.get(f"/v1/organisations/{theirs['id']}/members").status_code == 403


def test_registering_an_organisation_makes_you_its_admin(session):
    founder = client_for(make_user(session))
    created = founder.post(
        "/v1/organisations", json={"name": "New Group", "legal_form": "community_group"}
    )
    assert created.status_code == 201
    assert founder.get("/v1/me").json()["memberships"] == [
        {"organisation_id": created.json()["id"], "role": "admin"}
    ]
    assert founder.get(f"/v1/organisations/{created.json()['id']}").status_code == 200


def test_the_user_list_shows_each_persons_memberships(client, session):
    first = create_organisation(client, status="published")
    second = create_organisation(client, status="published")
    both = make_user(session, member_of={first["id"]: "admin", second["id"]: "editor"})
    none = make_user(session)
    listed = {
        u["id"]: u for u in client.get("/v1/users", params={"per_page": 100}).json()["contents"]
    }
    assert sorted(m["role"] for m in listed[str(both.id)]["memberships"]) == ["admin", "editor"]
    assert listed[str(none.id)]["memberships"] == []
