"""Each event is written by the change that causes it, in the same transaction: the rows
are asserted here on whichever database the suite runs on."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.types import utcnow
from app.notifications.models import OutboxEvent
from app.notifications.sweeps import run_sweeps
from tests.factories import create_activity, patch
from tests.notification_world import build_people

PERSONAL = ("LW-5150", "Marigold", "07700 900456", "mornings")


@pytest.fixture
def people(session, client):
    return build_people(session, client)


def events(session, event_type=None) -> list[OutboxEvent]:
    session.expire_all()
    statement = select(OutboxEvent).order_by(OutboxEvent.created_at)
    if event_type:
        statement = statement.where(OutboxEvent.type == event_type)
    return list(session.execute(statement).scalars())


def test_a_referral_and_each_answer_are_events_without_personal_data(people, session):
    referral = people.refer()
    [created] = events(session, "referral.created")
    assert created.subject_id.hex == referral["id"].replace("-", "")
    assert str(created.organisation_id) == people.organisation["id"]
    assert created.payload["referrer_id"] == str(people.link_worker_user.id)
    assert created.payload["actor_id"] == str(people.link_worker_user.id)
    accepted = people.provider.post(
        f"/v1/referrals/{referral['id']}/transitions", json={"status": "accepted"}
    )
    assert accepted.status_code == 200, accepted.text
    [changed] = events(session, "referral.status_changed")
    assert (changed.payload["from_status"], changed.payload["to_status"]) == ("sent", "accepted")
    stored = repr([e.payload for e in events(session)])
    for value in PERSONAL:
        assert value not in stored


def test_a_refused_change_leaves_no_event(people, session):
    referral = people.refer()
    before = len(events(session))
    refused = people.other_admin.post(
        f"/v1/referrals/{referral['id']}/transitions", json={"status": "accepted"}
    )
    assert refused.status_code in (403, 404)
    assert len(events(session)) == before


def test_capacity_changes_are_events(people, session):
    path = f"/v1/activities/{people.activity['id']}/capacity"
    response = patch(people.provider, path, {"status": "waitlist"})
    assert response.status_code == 200, response.text
    event = events(session, "capacity.changed")[-1]
    assert (event.payload["status"], event.payload["cause"]) == ("waitlist", "updated")
    assert event.payload["activity_id"] == people.activity["id"]


def test_referrals_nearing_their_deadline_warn_once(people, session, clock):
    referral = people.refer()
    assert run_sweeps(session, utcnow())["referrals_expiring"] == 0
    clock.travel(timedelta(days=13))
    session.commit()
    assert run_sweeps(session, utcnow())["referrals_expiring"] == 1
    session.commit()
    assert run_sweeps(session, utcnow())["referrals_expiring"] == 0
    session.commit()
    [warning] = events(session, "referral.expiring")
    assert warning.payload["referral_id"] == referral["id"]
    clock.travel(timedelta(days=2))
    run_sweeps(session, utcnow())
    session.commit()
    [expired] = events(session, "referral.status_changed")
    assert expired.payload["to_status"] == "expired"
    assert "actor_id" not in expired.payload


def test_listings_are_nudged_when_due_then_when_stale_then_afresh_after_confirming(
    people, session, client, clock
):
    activity_id = people.activity["id"]
    clock.travel(timedelta(days=200))
    assert run_sweeps(session, utcnow())["listings_nudged"] == 1
    assert run_sweeps(session, utcnow())["listings_nudged"] == 0
    clock.travel(timedelta(days=200))
    assert run_sweeps(session, utcnow())["listings_nudged"] == 1
    session.commit()
    assert [
        e.type
        for e in events(session)
        if e.subject_id.hex == activity_id.replace("-", "") and e.type.startswith("activity.")
    ] == ["activity.review_due", "activity.stale"]
    assert client.post(f"/v1/activities/{activity_id}/confirm").status_code == 200
    assert run_sweeps(session, utcnow())["listings_nudged"] == 0
    clock.travel(timedelta(days=200))
    assert run_sweeps(session, utcnow())["listings_nudged"] == 1


def test_assurance_events_follow_the_evidence(people, session, client, clock):
    org = people.organisation["id"]
    item = client.post(
        f"/v1/organisations/{org}/assurance-items",
        json={
            "kind": "public_liability_insurance",
            "insurer": "Mutual",
            "expires_on": (utcnow() + timedelta(days=40)).date().isoformat(),
        },
    ).json()
    assert [e.type for e in events(session, "assurance.submitted")] == ["assurance.submitted"]
    verified = people.steward.post(f"/v1/assurance-items/{item['id']}/verify")
    assert verified.status_code == 200, verified.text
    [event] = events(session, "assurance.verified")
    assert event.payload["kind"] == "public_liability_insurance"
    clock.travel(timedelta(days=15))
    assert run_sweeps(session, utcnow())["assurance_expiring"] == 1
    assert run_sweeps(session, utcnow())["assurance_expiring"] == 0
    clock.travel(timedelta(days=30))
    assert run_sweeps(session, utcnow())["assurance_lapsed"] == 1
    session.commit()
    assert len(events(session, "assurance.expired")) == 1


def test_assurance_rejection_is_an_event(people, session, client):
    org = people.organisation["id"]
    item = client.post(
        f"/v1/organisations/{org}/assurance-items",
        json={"kind": "public_liability_insurance", "insurer": "M", "expires_on": "2099-01-01"},
    ).json()
    response = people.steward.post(
        f"/v1/assurance-items/{item['id']}/reject", json={"reason": "Certificate unreadable"}
    )
    assert response.status_code == 200, response.text
    [event] = events(session, "assurance.rejected")
    assert event.payload["reason"] == "Certificate unreadable"


def test_support_needs_messages_status_and_matching_offers(people, session, client):
    category = people.needs["volunteers"]
    offer = people.other_admin.post(
        f"/v1/organisations/{people.other['id']}/support-offers",
        json={"category_id": category, "description": "We can lend volunteers"},
    )
    assert offer.status_code == 201, offer.text
    need = people.provider.post(
        f"/v1/organisations/{people.organisation['id']}/support-needs",
        json={
            "category_id": category,
            "urgency": "high",
            "description": "Short of drivers",
            "visibility": "peers",
        },
    ).json()
    [created] = events(session, "support_need.created")
    assert created.payload["urgency"] == "high"
    [matched] = events(session, "support_offer.matched")
    assert str(matched.organisation_id) == people.other["id"]
    assert matched.payload["need_id"] == need["id"]
    message = client.post(f"/v1/support-needs/{need['id']}/messages", json={"body": "On it"})
    assert message.status_code == 201, message.text
    [said] = events(session, "support_need.message")
    assert "On it" not in repr(said.payload)
    moved = client.post(
        f"/v1/support-needs/{need['id']}/transitions", json={"status": "acknowledged"}
    )
    assert moved.status_code == 200, moved.text
    [status] = events(session, "support_need.status_changed")
    assert status.payload["status"] == "acknowledged"


def test_publishing_an_organisation_is_an_event(people, session, client):
    draft = client.post("/v1/organisations", json={"name": "New Group", "legal_form": "charity"})
    assert draft.status_code == 201
    published_ids = [str(e.subject_id) for e in events(session, "organisation.published")]
    assert draft.json()["id"] not in published_ids
    published = patch(client, f"/v1/organisations/{draft.json()['id']}", {"status": "published"})
    assert published.status_code == 200, published.text
    assert [str(e.subject_id) for e in events(session, "organisation.published")][-1] == (
        draft.json()["id"]
    )
    create_activity(client, draft.json()["id"])  # listing in a published organisation: no event
    assert len(events(session, "organisation.published")) == 3


def test_a_drafts_shared_need_is_matched_with_nobody(people, session, client):
    category = people.needs["volunteers"]
    people.other_admin.post(
        f"/v1/organisations/{people.other['id']}/support-offers",
        json={"category_id": category, "description": "We can lend volunteers"},
    )
    draft = client.post("/v1/organisations", json={"name": "Quiet Draft", "legal_form": "charity"})
    need = client.post(
        f"/v1/organisations/{draft.json()['id']}/support-needs",
        json={
            "category_id": category,
            "urgency": "low",
            "description": "Drivers",
            "visibility": "peers",
        },
    )
    assert need.status_code == 201, need.text
    assert events(session, "support_need.created") != []
    assert events(session, "support_offer.matched") == []
