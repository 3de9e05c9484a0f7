"""Referrals: sending, answering, every legal and illegal move, who may read what."""

import uuid

import pytest
from sqlalchemy import text

from app.referrals.service import TRANSITIONS
from tests.referral_world import build_world


@pytest.fixture
def world(session, client):
    return build_world(session, client)


def test_a_link_worker_sends_a_referral_and_reads_it_back(world):
    response = world.link_worker.post("/v1/referrals", json=world.referral_body())
    assert response.status_code == 201
    referral = response.json()
    assert response.headers["location"] == f"/v1/referrals/{referral['id']}"
    assert referral["status"] == "sent"
    assert referral["activity"] == {"id": world.activity["id"], "name": "Easton Walking Group"}
    assert referral["organisation"]["id"] == world.organisation["id"]
    assert [n["code"] for n in referral["needs"]] == ["social-isolation"]
    assert referral["person_reference"] == "LW-2291"
    assert referral["contact"] == {
        "first_name": "Sam",
        "phone": "07700 900123",
        "email": None,
        "preferred_contact_time": "weekday mornings",
    }
    assert referral["note"] == "Prefers a quieter group to start with."
    assert referral["coding"] == [
        {
            "system": "http://snomed.info/sct",
            "code": "871731000000106",
            "display": "Referral to social prescribing service",
        }
    ]
    assert [(e["from_status"], e["to_status"]) for e in referral["history"]] == [(None, "sent")]
    assert referral["respond_by"] > referral["created_at"]


def test_the_provider_accepts_and_the_loop_closes(world):
    referral = world.refer()
    steps = ["accepted", "attended", "completed"]
    for step in steps:
        response = world.move(referral["id"], step)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == step
    final = world.link_worker.get(f"/v1/referrals/{referral['id']}").json()
    assert [e["to_status"] for e in final["history"]] == ["sent", *steps]
    assert final["first_response_at"] is not None
    assert final["closed_at"] is not None
    assert all(e["actor_type"] == "user" for e in final["history"])


def test_declining_needs_a_reason_and_carries_the_decline_code(world):
    referral = world.refer()
    missing = world.move(referral["id"], "declined")
    assert missing.status_code == 422
    assert world.link_worker.get(f"/v1/referrals/{referral['id']}").json()["status"] == "sent"

    declined = world.move(
        referral["id"], "declined", reason="not_eligible", note="For over 65s only."
    )
    assert declined.status_code == 200
    body = declined.json()
    assert body["decline_reason"] == "not_eligible"
    assert [c["code"] for c in body["coding"]] == ["871731000000106", "871711000000103"]
    assert body["history"][-1]["reason"] == "not_eligible"
    assert body["history"][-1]["note"] == "For over 65s only."


# Every (from, to) pair: legal ones succeed, the rest are 409 naming the current state.
PATHS = {
    "sent": [],
    "accepted": ["accepted"],
    "waitlisted": ["waitlisted"],
    "attended": ["accepted", "attended"],
    "did_not_attend": ["accepted", "did_not_attend"],
    "declined": [("declined", {"reason": "other"})],
    "completed": ["accepted", "attended", "completed"],
    "withdrawn": ["withdrawn"],
}
TARGETS = ["accepted", "declined", "waitlisted", "attended", "did_not_attend", "completed",
           "withdrawn"]  # fmt: skip


def _reach(world, state):
    referral = world.refer()
    for step in PATHS[state]:
        status, body = step if isinstance(step, tuple) else (step, {})
        client = world.link_worker if status == "withdrawn" else world.provider
        assert world.move(referral["id"], status, client, **body).status_code == 200
    return referral


@pytest.mark.parametrize("start", list(PATHS))
def test_every_transition_from_each_state(world, start):
    allowed = {str(s) for s in TRANSITIONS.get(start, ())}
    for target in TARGETS:
        referral = _reach(world, start)
        client = world.link_worker if target == "withdrawn" else world.provider
        body = {"reason": "other"} if target == "declined" else {}
        response = world.move(referral["id"], target, client, **body)
        if target in allowed:
            assert response.status_code == 200, (start, target, response.text)
            assert response.json()["status"] == target
        else:
            assert response.status_code == 409, (start, target)
            assert f"is {start}" in response.json()["detail"]
            stored = world.admin.get(f"/v1/referrals/{referral['id']}").json()
            assert stored["status"] == start
            assert len(stored["history"]) == len(PATHS[start]) + 1


def test_only_the_referrer_withdraws_and_only_the_provider_answers(world):
    referral = world.refer()
    assert world.move(referral["id"], "withdrawn", world.provider).status_code == 403
    assert world.move(referral["id"], "accepted", world.link_worker).status_code == 403
    assert world.move(referral["id"], "accepted", world.other_org).status_code == 404
    assert world.move(referral["id"], "withdrawn", world.other_link_worker).status_code == 404
    assert world.admin.get(f"/v1/referrals/{referral['id']}").json()["status"] == "sent"
    assert world.move(referral["id"], "withdrawn", world.link_worker).status_code == 200


def test_who_may_read_contact_details(world, anon):
    referral = world.refer()
    path = f"/v1/referrals/{referral['id']}"
    for reader in (world.link_worker, world.provider, world.admin):
        response = reader.get(path)
        assert response.status_code == 200
        assert response.json()["contact"]["first_name"] == "Sam"
    for outsider in (world.other_link_worker, world.other_org, world.steward, world.commissioner):
        response = outsider.get(path)
        assert response.status_code == 404
        assert "Sam" not in response.text
    assert anon.get(path).status_code == 401


def test_every_read_of_personal_data_is_audited(world):
    referral = world.refer()
    world.provider.get(f"/v1/referrals/{referral['id']}")
    reads = world.admin.get(
        "/v1/audit", params={"object_id": referral["id"], "action": "read"}
    ).json()["contents"]
    # The create response, the provider's read, and the admin's own audit query reads none.
    assert len(reads) == 2
    assert all(r["changes"] == {"read": ["person_reference", "contact", "note"]} for r in reads)
    assert all(r["organisation_id"] == world.organisation["id"] for r in reads)
    assert "Sam" not in str(reads) and "07700" not in str(reads)


def test_lists_are_scoped_and_hold_no_personal_data(world):
    mine = world.refer()
    theirs = world.refer(world.other_link_worker)

    def listed(client, **params):
        response = client.get("/v1/referrals", params=params)
        assert response.status_code == 200, response.text
        return response

    assert {r["id"] for r in listed(world.link_worker).json()["contents"]} == {mine["id"]}
    assert {r["id"] for r in listed(world.other_link_worker).json()["contents"]} == {theirs["id"]}
    incoming = listed(world.provider)
    assert {r["id"] for r in incoming.json()["contents"]} == {mine["id"], theirs["id"]}
    assert "Sam" not in incoming.text and "LW-2291" not in incoming.text
    assert listed(world.other_org).json()["total_items"] == 0
    assert listed(world.admin).json()["total_items"] == 2
    for refused in (world.steward, world.commissioner):
        assert refused.get("/v1/referrals").status_code == 403


def test_list_filters(world):
    first = world.refer()
    second = world.refer()
    world.move(first["id"], "accepted")

    def ids(**params):
        page = world.provider.get("/v1/referrals", params=params).json()
        return {r["id"] for r in page["contents"]}

    assert ids(status="accepted") == {first["id"]}
    assert ids(status=["accepted", "sent"]) == {first["id"], second["id"]}
    assert ids(awaiting_response="true") == {second["id"]}
    assert ids(awaiting_response="false") == {first["id"]}
    assert ids(need=world.needs["social-isolation"]) == {first["id"], second["id"]}
    assert ids(need=world.needs["low-mood"]) == set()
    assert ids(activity=world.activity["id"]) == {first["id"], second["id"]}
    changed = world.provider.get(f"/v1/referrals/{first['id']}").json()["status_changed_at"]
    assert ids(changed_since=changed) == set()
    assert ids(changed_since=second["created_at"]) == {first["id"]}
    assert world.provider.get("/v1/referrals", params={"status": "nope"}).status_code == 422


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"consent_confirmed": False}, "body.consent_confirmed"),
        ({"consent_confirmed": None}, "body.consent_confirmed"),
        ({"person_reference": "943 476 5919"}, "body.person_reference"),
        ({"person_reference": "NHS-9434765919"}, "body.person_reference"),
        ({"person_reference": "x" * 65}, "body.person_reference"),
        ({"need_ids": []}, "body.need_ids"),
        ({"contact": {"first_name": "Sam"}}, "body.contact"),
        ({"contact": {"first_name": "S" * 51, "phone": "07700 900123"}}, "body.contact.first_name"),
        ({"contact": {"first_name": "Sam", "email": "not-an-email"}}, "body.contact.email"),
        (
            {"contact": {"first_name": "Sam", "phone": "0", "preferred_contact_time": "x"}},
            "body.contact.phone",
        ),
        ({"note": "n" * 1001}, "body.note"),
        ({"activity_id": "00000000-0000-0000-0000-000000000000"}, "body.activity_id"),
        ({"unexpected": 1}, "body.unexpected"),
    ],
)
def test_bad_referrals_are_422_and_store_nothing(world, session, overrides, field):
    response = world.link_worker.post("/v1/referrals", json=world.referral_body(**overrides))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert session.execute(text("SELECT count(*) FROM referral")).scalar() == 0
    assert world.capacity()["referrals_this_week"] == 0


def test_a_need_must_come_from_the_need_vocabulary(world):
    category = world.needs["walking-and-physical-activity"]
    response = world.link_worker.post(
        "/v1/referrals", json=world.referral_body(need_ids=[category])
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.need_ids"


def test_only_link_workers_send_referrals(world, anon):
    body = world.referral_body()
    assert anon.post("/v1/referrals", json=body).status_code == 401
    for refused in (world.provider, world.steward, world.commissioner, world.admin):
        assert refused.post("/v1/referrals", json=body).status_code == 403
    assert world.admin.get("/v1/referrals").json()["total_items"] == 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"status": "temporarily closed"}, "temporarily closed"),
        ({"access_modes": ["drop_in"]}, "does not take referrals"),
    ],
)
def test_activities_that_take_no_referrals_refuse_them(world, change, words):
    from tests.factories import patch

    assert patch(world.admin, f"/v1/activities/{world.activity['id']}", change).status_code == 200
    response = world.link_worker.post("/v1/referrals", json=world.referral_body())
    assert response.status_code == 409
    assert words in response.json()["detail"]


def test_an_archived_activity_refuses_referrals(world):
    world.admin.post(f"/v1/activities/{world.activity['id']}/archive")
    response = world.link_worker.post("/v1/referrals", json=world.referral_body())
    # Archived activities are hidden from link workers: the id is unknown to them.
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.activity_id"


def test_refused_personal_data_is_not_echoed_back(world):
    body = world.referral_body(person_reference="943 476 5919")
    response = world.link_worker.post("/v1/referrals", json=body)
    assert response.status_code == 422
    assert "943 476 5919" not in response.text
    assert "looks like an NHS number" in response.text


def test_the_provider_sees_who_referred_and_history_names_who_acted(world, session):
    """Who sent it (name, role, work email) for the provider to reach them; each step of
    the history by name and role, not a bare id."""
    from app.accounts.models import User

    referral = world.refer()
    world.move(referral["id"], "accepted")
    seen = world.provider.get(f"/v1/referrals/{referral['id']}").json()
    sender = session.get(User, uuid.UUID(seen["referrer"]["id"]))
    assert seen["referrer"] == {
        "id": str(sender.id),
        "display_name": sender.display_name,
        "role": "link_worker",
        "email": sender.email,
    }
    listed = world.provider.get("/v1/referrals").json()["contents"][0]
    assert listed["referrer"]["email"] == sender.email
    names = [(e["to_status"], e["actor_name"], e["actor_role"]) for e in seen["history"]]
    assert names == [
        ("sent", sender.display_name, "link_worker"),
        ("accepted", "Test User", "editor"),  # the provider's editor, by their role there
    ]
    # What identifies the person referred stays out of the provider's lists.
    assert listed["person_reference"] is None and "contact" not in listed
