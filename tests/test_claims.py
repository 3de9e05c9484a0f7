"""Claiming a listed organisation, and registering one that is already listed."""

import pytest

from app.accounts.models import GlobalRole
from tests.factories import client_for, create_organisation, make_user
from tests.notification_world import deliver_all


@pytest.fixture
def listed(client):
    return create_organisation(
        client,
        status="published",
        name="The Easton Walkers Ltd",
        charity_number="1123456",
        website="https://eastonwalkers.example.org",
    )


def test_a_steward_approves_a_claim_and_the_claimant_becomes_admin(listed, session, inbox):
    claimant_user = make_user(session, email="jo@eastonwalkers.example.org")
    claimant = client_for(claimant_user)
    steward_user = make_user(session, role=GlobalRole.steward)
    steward = client_for(steward_user)
    claimed = claimant.post(
        f"/v1/organisations/{listed['id']}/claims",
        json={"charity_number": "1123456", "role_email": "jo@eastonwalkers.example.org"},
    )
    assert claimed.status_code == 201, claimed.text
    again = claimant.post(
        f"/v1/organisations/{listed['id']}/claims", json={"charity_number": "1123456"}
    )
    assert again.status_code == 409
    claim = claimed.json()
    assert [
        c["id"] for c in steward.get("/v1/claims", params={"status": "pending"}).json()["contents"]
    ] == [claim["id"]]
    deliver_all()
    subjects = [m["Subject"] for m in inbox.to(steward_user.email)]
    assert "The Easton Walkers Ltd was claimed" in subjects
    assert claimant.post(f"/v1/claims/{claim['id']}/approve").status_code == 403
    approved = steward.post(f"/v1/claims/{claim['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    me = claimant.get("/v1/me").json()
    assert [(m["organisation_id"], m["role"]) for m in me["memberships"]] == [
        (listed["id"], "admin")
    ]
    assert steward.post(f"/v1/claims/{claim['id']}/reject", json={"reason": "x"}).status_code == 409
    deliver_all()
    told = [m["Subject"] for m in inbox.to(claimant_user.email)]
    assert told == ["Your claim to The Easton Walkers Ltd: approved"]


def test_a_rejected_claim_gives_nothing_and_says_why(listed, session):
    claimant = client_for(make_user(session))
    steward = client_for(make_user(session, role=GlobalRole.steward))
    claim = claimant.post(
        f"/v1/organisations/{listed['id']}/claims", json={"charity_number": "1123456"}
    ).json()
    rejected = steward.post(f"/v1/claims/{claim['id']}/reject", json={"reason": "Not you"})
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("rejected", "Not you")
    assert claimant.get(f"/v1/claims/{claim['id']}").json()["reason"] == "Not you"
    assert claimant.get("/v1/me").json()["memberships"] == []
    other = client_for(make_user(session))
    assert other.get(f"/v1/claims/{claim['id']}").status_code == 404
    assert other.get("/v1/claims").json()["total_items"] == 0


@pytest.mark.parametrize(
    "evidence, field",
    [
        ({}, "body.charity_number"),
        ({"charity_number": "1999999"}, "body.charity_number"),
        ({"role_email": "jo@gmail.example"}, "body.role_email"),
    ],
)
def test_claims_without_matching_evidence_are_refused(listed, session, evidence, field):
    claimant = client_for(make_user(session))
    response = claimant.post(f"/v1/organisations/{listed['id']}/claims", json=evidence)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Easton Walkers", "legal_form": "charity"},
        {"name": "easton walkers CIC", "legal_form": "charity"},
        {"name": "Another Name", "legal_form": "charity", "charity_number": "1123456"},
    ],
)
def test_registering_a_listed_organisation_points_at_claiming_it(listed, session, body):
    founder = client_for(make_user(session))
    response = founder.post("/v1/organisations", json=body)
    assert response.status_code == 409
    assert f"/v1/organisations/{listed['id']}/claims" in response.json()["detail"]


def test_a_draft_is_not_a_duplicate_and_a_new_name_registers(client, session):
    create_organisation(client, status="draft", name="Quiet Draft Group")
    founder = client_for(make_user(session))
    assert (
        founder.post(
            "/v1/organisations", json={"name": "Quiet Draft Group", "legal_form": "charity"}
        ).status_code
        == 201
    )
    assert (
        founder.post(
            "/v1/organisations", json={"name": "Easton Walkers Two", "legal_form": "charity"}
        ).status_code
        == 201
    )


def test_one_name_in_two_places_is_two_organisations(client, session):
    create_organisation(
        client, status="published", name="Friends of the Park", areas_served=["Bath"]
    )
    founder = client_for(make_user(session))
    elsewhere = {"name": "Friends of the Park", "legal_form": "charity", "areas_served": ["BS5"]}
    assert founder.post("/v1/organisations", json=elsewhere).status_code == 201
    same_place = {"name": "Friends of Park", "legal_form": "charity", "areas_served": ["bath"]}
    assert founder.post("/v1/organisations", json=same_place).status_code == 409
