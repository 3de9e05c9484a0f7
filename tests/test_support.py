"""Support needs and peer offers: lifecycle, thread, queues, matching and who sees what,
across two organisations, a steward, a commissioner and a link worker."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from app.accounts.models import GlobalRole
from app.vocabulary.seed import seed_vocabulary
from tests.factories import (
    client_for,
    create_activity,
    create_organisation,
    create_venue,
    make_user,
    patch,
)

BS5 = (51.4614, -2.5499)


@pytest.fixture
def world(session, client):
    terms = {code: str(term.id) for code, term in seed_vocabulary(session).items()}
    session.commit()
    a = create_organisation(client, name="Alpha Arts", status="published", areas_served=["BS5"])
    b = create_organisation(client, name="Beta Befriending", status="published",
                            areas_served=["BS7"])  # fmt: skip
    near = create_organisation(client, name="Near Neighbours", status="published")
    far = create_organisation(client, name="Far Friends", status="published")
    for organisation, north_km in ((a, 0), (near, 2), (far, 30)):
        create_venue(
            client,
            managed_by_organisation_id=organisation["id"],
            latitude=BS5[0] + north_km / 111.2,
            longitude=BS5[1],
        )
    return {
        "admin": client,
        "terms": terms,
        "a": a,
        "b": b,
        "near": near,
        "far": far,
        "a_editor": client_for(make_user(session, member_of={a["id"]: "editor"})),
        "b_editor": client_for(make_user(session, member_of={b["id"]: "editor"})),
        "near_editor": client_for(make_user(session, member_of={near["id"]: "editor"})),
        "far_editor": client_for(make_user(session, member_of={far["id"]: "editor"})),
        "steward": client_for(make_user(session, role=GlobalRole.steward)),
        "commissioner": client_for(make_user(session, role=GlobalRole.commissioner)),
        "link_worker": client_for(make_user(session, role=GlobalRole.link_worker)),
    }


def _flag(world, who="a_editor", org="a", **body):
    body = {"category_id": world["terms"]["volunteers"], "urgency": "high",
            "description": "We need volunteers", "visibility": "responders", **body}  # fmt: skip
    response = world[who].post(f"/v1/organisations/{world[org]['id']}/support-needs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _move(world, need, status, who="steward"):
    return world[who].post(f"/v1/support-needs/{need['id']}/transitions", json={"status": status})


def _ids(response):
    assert response.status_code == 200, response.text
    return [n["id"] for n in response.json()["contents"]]


def test_the_lifecycle_with_timestamps_and_a_handler(world, session):
    need = _flag(world)
    assert (need["status"], need["handler_id"], need["messages"]) == ("open", None, [])
    acknowledged = _move(world, need, "acknowledged").json()
    assert acknowledged["status"] == "acknowledged"
    assert acknowledged["acknowledged_at"] is not None
    steward_id = session.execute(
        text("SELECT id FROM user_account WHERE role = 'steward'")
    ).scalar()
    assert acknowledged["handler_id"].replace("-", "") == str(steward_id).replace("-", "")
    in_hand = _move(world, need, "in_progress", "commissioner").json()
    assert in_hand["in_progress_at"] is not None
    assert in_hand["handler_id"] == acknowledged["handler_id"]  # the first responder keeps it
    resolved = _move(world, need, "resolved", "a_editor").json()
    assert (resolved["status"], resolved["resolved_at"] is not None) == ("resolved", True)
    again = _move(world, need, "closed")
    assert again.status_code == 409
    assert "is resolved" in again.json()["detail"]


@pytest.mark.parametrize(
    ("steps", "target", "who", "code"),
    [
        ([], "acknowledged", "a_editor", 403),  # organisations do not acknowledge themselves
        ([], "in_progress", "a_editor", 403),
        ([], "closed", "a_editor", 200),  # withdrawing it
        (["acknowledged"], "acknowledged", "steward", 409),
        (["acknowledged", "in_progress"], "acknowledged", "steward", 409),
        (["closed"], "in_progress", "steward", 409),
        ([], "reopened", "steward", 422),
        ([], "in_progress", "steward", 409),  # acknowledged first
        ([], "resolved", "steward", 409),
        ([], "acknowledged", "b_editor", 404),  # a private need does not exist for B
        ([], "acknowledged", "link_worker", 404),
    ],
)
def test_illegal_moves_are_refused_and_change_nothing(world, steps, target, who, code):
    need = _flag(world)
    for step in steps:
        assert _move(world, need, step).status_code == 200
    before = world["steward"].get(f"/v1/support-needs/{need['id']}").json()
    assert _move(world, need, target, who).status_code == code
    if code != 200:
        assert world["steward"].get(f"/v1/support-needs/{need['id']}").json() == before


def test_the_thread(world):
    need = _flag(world)
    path = f"/v1/support-needs/{need['id']}/messages"
    assert world["a_editor"].post(path, json={"body": "Any help welcome"}).status_code == 201
    reply = world["commissioner"].post(path, json={"body": "Try the volunteer centre"})
    assert reply.status_code == 201
    thread = reply.json()["messages"]
    assert [(m["author_side"], m["body"]) for m in thread] == [
        ("organisation", "Any help welcome"),
        ("responder", "Try the volunteer centre"),
    ]
    assert world["b_editor"].post(path, json={"body": "me too"}).status_code == 404
    assert world["a_editor"].post(path, json={"body": ""}).status_code == 422
    _move(world, need, "closed", "a_editor")
    closed = world["steward"].post(path, json={"body": "late"})
    assert closed.status_code == 409
    assert len(world["steward"].get(f"/v1/support-needs/{need['id']}").json()["messages"]) == 2


def test_queues_filter_and_sort_by_urgency_then_waiting_time(world, session, clock):
    old_low = _flag(world, urgency="low")
    old_high = _flag(world, urgency="high")
    clock.travel(timedelta(days=10))
    new_critical = _flag(world, "b_editor", "b", urgency="critical",
                         category_id=world["terms"]["core-funding"])  # fmt: skip
    new_high = _flag(world, "b_editor", "b", urgency="high")
    _move(world, new_high, "acknowledged")

    queue = world["steward"].get("/v1/support-needs")
    assert _ids(queue) == [new_critical["id"], old_high["id"], new_high["id"], old_low["id"]]
    assert queue.json()["contents"][1]["waiting_days"] == 10
    params = world["commissioner"].get
    assert _ids(params("/v1/support-needs", params={"urgency": "high"})) == [
        old_high["id"], new_high["id"]]  # fmt: skip
    assert _ids(params("/v1/support-needs", params={"status": "open"})) == [
        new_critical["id"], old_high["id"], old_low["id"]]  # fmt: skip
    assert _ids(params("/v1/support-needs", params={"category": "core-funding"})) == [
        new_critical["id"]
    ]
    assert _ids(params("/v1/support-needs", params={"area": "BS5"})) == [
        old_high["id"], old_low["id"]]  # fmt: skip
    assert _ids(params("/v1/support-needs", params={"waiting_days": 5})) == [
        old_high["id"], old_low["id"]]  # fmt: skip
    assert _ids(params("/v1/support-needs", params={"organisation": world["b"]["id"]})) == [
        new_critical["id"], new_high["id"]]  # fmt: skip
    bad = params("/v1/support-needs", params={"category": "unicorns"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.category"
    # Organisations list their own.
    assert _ids(world["a_editor"].get("/v1/support-needs")) == [old_high["id"], old_low["id"]]


def test_private_needs_are_invisible_to_other_organisations_everywhere(world):
    private = _flag(world, description="Our coordinator is off sick")
    shared = _flag(world, visibility="peers", description="We would like a mentor",
                   category_id=world["terms"]["mentoring"])  # fmt: skip
    b = world["b_editor"]
    assert b.get(f"/v1/support-needs/{private['id']}").status_code == 404
    assert b.get(f"/v1/support-needs/{private['id']}/matches").status_code == 404
    peers = b.get("/v1/support-needs", params={"peers": "true"}).json()
    assert [n["id"] for n in peers["contents"]] == [shared["id"]]
    assert peers["total_items"] == 1
    assert "off sick" not in str(peers)
    assert b.get("/v1/support-needs").json()["total_items"] == 0  # B has none of its own
    seen = b.get(f"/v1/support-needs/{shared['id']}").json()
    assert (seen["description"], seen["messages"]) == ("We would like a mentor", None)
    # A link worker sees no support needs at all.
    assert world["link_worker"].get("/v1/support-needs").status_code == 403
    assert world["link_worker"].get(f"/v1/support-needs/{shared['id']}").status_code == 404
    # Both responders see both.
    for responder in ("steward", "commissioner"):
        assert world[responder].get("/v1/support-needs").json()["total_items"] == 2


def test_matches_by_category_nearest_first(world):
    mentoring = world["terms"]["mentoring"]

    def offer(who, org, category=mentoring):
        response = world[who].post(
            f"/v1/organisations/{world[org]['id']}/support-offers",
            json={"category_id": category, "description": f"{org} can help"},
        )
        assert response.status_code == 201, response.text
        return response.json()

    far = offer("far_editor", "far")
    near = offer("near_editor", "near")
    unlocated = offer("b_editor", "b")
    offer("near_editor", "near", world["terms"]["transport"])  # another category
    withdrawn = offer("far_editor", "far")
    assert world["far_editor"].post(f"/v1/support-offers/{withdrawn['id']}/withdraw").json()[
        "withdrawn_at"] is not None  # fmt: skip
    need = _flag(world, visibility="peers", category_id=mentoring)

    found = world["a_editor"].get(f"/v1/support-needs/{need['id']}/matches").json()
    assert [m["offer"]["id"] for m in found["matches"]] == [near["id"], far["id"], unlocated["id"]]
    distances = [m["distance_km"] for m in found["matches"]]
    assert distances == [pytest.approx(2.0, abs=0.05), pytest.approx(30.0, abs=0.2), None]
    assert found["category"]["code"] == "mentoring"
    assert world["steward"].get(f"/v1/support-needs/{need['id']}/matches").status_code == 200

    private = _flag(world, category_id=mentoring)
    refused = world["a_editor"].get(f"/v1/support-needs/{private['id']}/matches")
    assert refused.status_code == 409
    assert "share it with peers" in refused.json()["detail"]


def test_bad_input(world, session):
    path = f"/v1/organisations/{world['a']['id']}/support-needs"
    cases = [
        ({"category_id": world["terms"]["low-mood"], "urgency": "high", "description": "x"},
         "body.category_id"),
        ({"category_id": world["terms"]["venue"], "urgency": "urgent", "description": "x"},
         "body.urgency"),
        ({"category_id": world["terms"]["venue"], "urgency": "low", "description": ""},
         "body.description"),
        ({"category_id": world["terms"]["venue"], "urgency": "low", "description": "x",
          "visibility": "everyone"}, "body.visibility"),
    ]  # fmt: skip
    for body, field in cases:
        response = world["a_editor"].post(path, json=body)
        assert response.status_code == 422, body
        assert field in [e["field"] for e in response.json()["errors"]]
    body = {"category_id": world["terms"]["venue"], "urgency": "low", "description": "x"}
    assert world["b_editor"].post(path, json=body).status_code == 403
    assert world["steward"].post(path, json=body).status_code == 403
    assert session.execute(text("SELECT count(*) FROM support_need")).scalar() == 0
    offers = f"/v1/organisations/{world['a']['id']}/support-offers"
    offer = {"category_id": world["terms"]["venue"], "description": "hall"}
    assert world["b_editor"].post(offers, json=offer).status_code == 403


def test_the_review_queue_invites_a_need_but_never_flags_one(world, session):
    activity = create_activity(world["admin"], world["a"]["id"], access_modes=["referral"])
    assert (
        patch(
            world["a_editor"],
            f"/v1/activities/{activity['id']}/capacity",
            {"status": "paused", "pause_reason": "staff_capacity"},
        ).status_code
        == 200
    )
    queue = world["a_editor"].get(f"/v1/organisations/{world['a']['id']}/review-queue").json()
    [invite] = [e for e in queue["entries"] if e["type"] == "support_suggested"]
    assert invite["title"] == "Burn-out and over capacity"
    assert "paused for staff capacity" in invite["action"]
    assert invite["subject_id"] == world["terms"]["over-capacity"]
    assert session.execute(text("SELECT count(*) FROM support_need")).scalar() == 0

    _flag(world, category_id=world["terms"]["over-capacity"])
    queue = world["a_editor"].get(f"/v1/organisations/{world['a']['id']}/review-queue").json()
    assert [e for e in queue["entries"] if e["type"] == "support_suggested"] == []


def test_lapsed_training_suggests_training_support(world, clock):
    world["a_editor"].post(
        f"/v1/organisations/{world['a']['id']}/assurance-items",
        json={"kind": "training", "training_type_id": world["terms"]["mental-health-first-aid"],
              "completed_on": "2026-01-01", "expires_on": "2026-12-01", "staff_trained": 2},
    )  # fmt: skip
    clock.travel(timedelta(days=400))
    queue = world["a_editor"].get(f"/v1/organisations/{world['a']['id']}/review-queue").json()
    invites = [(e["title"], e["action"]) for e in queue["entries"]
               if e["type"] == "support_suggested"]  # fmt: skip
    assert len(invites) == 1
    assert invites[0][0] == "Mental health training"
    assert invites[0][1].startswith("Mental-health-first-aid has lapsed")
