"""Nobody joins without accepting: invitations to organisations and to Signpost's roles,
answered with the emailed link (signing up on the way), and what the inviter sees. Also
leaving an organisation and deleting your own account."""

import re
from datetime import timedelta

import jwt
import pytest
from sqlmodel import select

from app.accounts.models import GlobalRole, User
from app.audit.models import AuditEntry
from tests.factories import PASSWORD, client_for, create_organisation, make_user
from tests.notification_world import deliver_all

NEW = "four unrelated words tonight"


@pytest.fixture
def org(client, session):
    organisation = create_organisation(client, status="published", name="Easton Walkers")
    admin = client_for(make_user(session, member_of={organisation["id"]: "admin"}))
    return organisation, admin


def invite(admin, organisation, email, role="editor"):
    response = admin.post(
        f"/v1/organisations/{organisation['id']}/invitations", json={"email": email, "role": role}
    )
    assert response.status_code == 201, response.text
    return response.json()


def token_from(inbox, address) -> str:
    deliver_all()
    [message] = [m for m in inbox.to(address) if "invited" in m["Subject"]][-1:]
    return re.search(r"/invitations\?token=(\S+)", message.get_content()).group(1)


def test_a_new_person_accepts_and_signs_up_on_the_way(org, inbox, anon):
    organisation, admin = org
    invitation = invite(admin, organisation, "New.Person@walkers.example.org")
    assert invitation["email"] == "new.person@walkers.example.org"
    deliver_all()
    [message] = inbox.to("new.person@walkers.example.org")
    assert message["Subject"] == "You are invited to join Easton Walkers on Signpost as editor"
    token = token_from(inbox, "new.person@walkers.example.org")
    missing = anon.post("/v1/invitations/accept", json={"token": token})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.display_name"
    weak = anon.post(
        "/v1/invitations/accept",
        json={"token": token, "display_name": "New", "password": "password1234"},
    )
    assert weak.status_code == 422
    accepted = anon.post(
        "/v1/invitations/accept", json={"token": token, "display_name": "New", "password": NEW}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["invitation"]["status"] == "accepted"
    bearer = {"Authorization": f"Bearer {accepted.json()['access_token']}"}
    me = anon.get("/v1/me", headers=bearer).json()
    assert me["memberships"] == [
        {
            "organisation_id": organisation["id"],
            "organisation_name": "Easton Walkers",
            "role": "editor",
        }
    ]
    listed = admin.get(f"/v1/organisations/{organisation['id']}/invitations").json()
    assert [i["status"] for i in listed["contents"]] == ["accepted"]
    assert anon.post("/v1/invitations/accept", json={"token": token}).status_code == 409


def test_someone_with_an_account_accepts_signed_in_as_the_invited_address(
    org, inbox, session, anon
):
    organisation, admin = org
    invitee = make_user(session, email="kim@walkers.example.org")
    stranger = make_user(session, email="stranger@walkers.example.org")
    invite(admin, organisation, invitee.email, role="admin")
    token = token_from(inbox, invitee.email)
    assert anon.post("/v1/invitations/accept", json={"token": token}).status_code == 401
    wrong = client_for(stranger).post("/v1/invitations/accept", json={"token": token})
    assert wrong.status_code == 403
    right = client_for(invitee).post("/v1/invitations/accept", json={"token": token})
    assert right.status_code == 200, right.text
    assert right.json()["access_token"] is None
    me = client_for(invitee).get("/v1/me").json()
    assert [(m["organisation_id"], m["role"]) for m in me["memberships"]] == [
        (organisation["id"], "admin")
    ]
    assert client_for(stranger).get("/v1/me").json()["memberships"] == []


def test_declined_withdrawn_expired_and_forged_invitations_admit_nobody(
    org, inbox, session, anon, clock
):
    organisation, admin = org
    invite(admin, organisation, "no@walkers.example.org")
    declined = token_from(inbox, "no@walkers.example.org")
    answer = anon.post("/v1/invitations/decline", json={"token": declined})
    assert answer.json()["invitation"]["status"] == "declined"
    body = {"token": declined, "display_name": "No", "password": NEW}
    assert anon.post("/v1/invitations/accept", json=body).status_code == 409

    withdrawn = invite(admin, organisation, "later@walkers.example.org")
    token = token_from(inbox, "later@walkers.example.org")
    assert admin.delete(f"/v1/invitations/{withdrawn['id']}").status_code == 204
    body = {"token": token, "display_name": "Later", "password": NEW}
    assert anon.post("/v1/invitations/accept", json=body).status_code == 409

    invite(admin, organisation, "slow@walkers.example.org")
    slow = token_from(inbox, "slow@walkers.example.org")
    clock.travel(timedelta(days=15))
    body = {"token": slow, "display_name": "Slow", "password": NEW}
    assert anon.post("/v1/invitations/accept", json=body).status_code == 409
    statuses = {
        i["email"]: i["status"]
        for i in admin.get(f"/v1/organisations/{organisation['id']}/invitations").json()["contents"]
    }
    assert statuses == {
        "no@walkers.example.org": "declined",
        "later@walkers.example.org": "withdrawn",
        "slow@walkers.example.org": "expired",
    }
    claims = jwt.decode(slow, options={"verify_signature": False})
    forged = jwt.encode(claims, "somebody else's secret, long enough", algorithm="HS256")
    body = {"token": forged, "display_name": "F", "password": NEW}
    assert anon.post("/v1/invitations/accept", json=body).status_code == 400
    assert session.exec(select(User).where(User.email.like("%walkers%"))).all() == []


def test_stewards_invite_link_workers_not_admins(client, session, inbox, anon):
    steward = client_for(make_user(session, role=GlobalRole.steward))
    refused = steward.post("/v1/invitations", json={"email": "a@nhs.example", "role": "admin"})
    assert refused.status_code == 403
    invited = steward.post(
        "/v1/invitations", json={"email": "lw@nhs.example", "role": "link_worker"}
    )
    assert invited.status_code == 201
    assert (
        client.post(
            "/v1/invitations", json={"email": "st@nhs.example", "role": "steward"}
        ).status_code
        == 201
    )  # admins invite any role
    token = token_from(inbox, "lw@nhs.example")
    accepted = anon.post(
        "/v1/invitations/accept", json={"token": token, "display_name": "LW", "password": NEW}
    )
    assert accepted.status_code == 200, accepted.text
    bearer = {"Authorization": f"Bearer {accepted.json()['access_token']}"}
    assert anon.get("/v1/me", headers=bearer).json()["role"] == "link_worker"
    listed = steward.get("/v1/invitations").json()
    assert {i["email"]: i["status"] for i in listed["contents"]} == {
        "lw@nhs.example": "accepted",
        "st@nhs.example": "pending",
    }


def test_leaving_an_organisation_and_the_last_admin_staying(org, session):
    organisation, admin = org
    editor = make_user(session, member_of={organisation["id"]: "editor"})
    path = f"/v1/me/memberships/{organisation['id']}"
    assert client_for(editor).delete(path).status_code == 204
    assert client_for(editor).get("/v1/me").json()["memberships"] == []
    assert client_for(editor).delete(path).status_code == 404
    assert admin.delete(path).status_code == 409


def test_deleting_your_account_erases_you_and_keeps_the_trail(org, session, anon):
    organisation, _ = org
    person = make_user(
        session, email="leaving@walkers.example.org", member_of={organisation["id"]: "editor"}
    )
    me = client_for(person)
    path = f"/v1/organisations/{organisation['id']}"
    edited = me.patch(
        path, json={"phone": "0117 496 0000"}, headers={"If-Match": me.get(path).headers["etag"]}
    )
    assert edited.status_code == 200, edited.text
    assert me.delete("/v1/me").status_code == 204
    assert me.get("/v1/me").status_code == 401
    sign_in = anon.post(
        "/v1/auth/token", data={"username": "leaving@walkers.example.org", "password": PASSWORD}
    )
    assert sign_in.status_code == 401
    session.expire_all()
    erased = session.get(User, person.id)
    assert "leaving" not in erased.email and erased.display_name == "Deleted user"
    trail = session.exec(select(AuditEntry).where(AuditEntry.actor_id == person.id)).all()
    assert "organisation" in {e.object_type for e in trail}  # still attributed to the id
    assert client_for(None).get(path).status_code == 200
    assert erased.is_active is False and erased.role is None
