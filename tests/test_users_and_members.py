import uuid

from app.accounts.models import GlobalRole, Membership, OrganisationRole
from tests.factories import PASSWORD, client_for, create_organisation, make_user


def test_admin_manages_accounts(client, anon, session):
    user = make_user(session, email="sam@practice.example", role=GlobalRole.link_worker)
    assert (
        anon.post(
            "/v1/auth/token", data={"username": "sam@practice.example", "password": PASSWORD}
        ).status_code
        == 200
    )
    changed = client.patch(f"/v1/users/{user.id}", json={"role": "steward", "is_active": False})
    assert changed.json()["role"] == "steward" and changed.json()["is_active"] is False
    assert "password" not in changed.json() and "password_hash" not in changed.json()
    assert (
        client.get("/v1/users", params={"role": "steward", "is_active": False}).json()[
            "total_items"
        ]
        == 1
    )
    refused = anon.post(
        "/v1/auth/token", data={"username": "sam@practice.example", "password": PASSWORD}
    )
    assert refused.status_code == 401


def test_admins_neither_create_accounts_with_passwords_nor_set_them(client, session):
    user = make_user(session, email="pw@test.example")
    body = {"email": "a@b.example", "display_name": "A", "password": "a long enough password"}
    assert client.post("/v1/users", json=body).status_code == 405  # invitations instead
    response = client.patch(f"/v1/users/{user.id}", json={"password": "a brand new passphrase"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.password"


def test_organisation_admin_invites_and_removes_members(client, session):
    organisation = create_organisation(client, status="published")
    org_admin = client_for(make_user(session, member_of={organisation["id"]: "admin"}))
    newcomer = make_user(session, email="newcomer@test.example")
    members_path = f"/v1/organisations/{organisation['id']}/members"
    assert org_admin.post(members_path, json={"email": newcomer.email}).status_code == 405
    known = org_admin.post(
        f"/v1/organisations/{organisation['id']}/invitations", json={"email": newcomer.email}
    )
    unknown = org_admin.post(
        f"/v1/organisations/{organisation['id']}/invitations",
        json={"email": "nobody@test.example"},
    )
    assert known.status_code == unknown.status_code == 201
    assert set(known.json()) == set(unknown.json())  # nothing says who has an account
    assert known.json()["status"] == unknown.json()["status"] == "pending"
    newcomer_client = client_for(newcomer)
    assert newcomer_client.get("/v1/me").json()["memberships"] == []  # not until accepted

    session.add(
        Membership(
            user_id=newcomer.id,
            organisation_id=uuid.UUID(organisation["id"]),
            role=OrganisationRole.editor,
        )
    )
    session.commit()
    listed = org_admin.get(members_path).json()
    assert {m["email"] for m in listed["contents"]} >= {"newcomer@test.example"}
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
        f"/v1/organisations/{theirs['id']}/invitations", json={"email": target.email}
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
        {"organisation_id": created.json()["id"], "organisation_name": "New Group", "role": "admin"}
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
