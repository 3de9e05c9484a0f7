"""Assurance and freshness: evidence submitted, reviewed, expiring and expiring again,
walked through time with the app's clock; who may see and change what."""

from datetime import timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from app.accounts.models import GlobalRole
from app.cli import cli
from app.core.config import get_settings
from app.core.types import utcnow
from app.vocabulary.seed import seed_vocabulary
from tests.factories import (
    ASSURED_ITEMS,
    assure,
    client_for,
    create_activity,
    create_organisation,
    make_user,
    patch,
)


@pytest.fixture
def world(session, client):
    terms = {code: str(term.id) for code, term in seed_vocabulary(session).items()}
    session.commit()
    own = create_organisation(client, status="published")
    other = create_organisation(client, status="published")
    activity = create_activity(client, own["id"], name="Walk and Talk", access_modes=["referral"])
    return {
        "admin": client,
        "own": own,
        "other": other,
        "activity": activity,
        "terms": terms,
        "editor": client_for(make_user(session, member_of={own["id"]: "editor"})),
        "other_editor": client_for(make_user(session, member_of={other["id"]: "editor"})),
        "steward": client_for(make_user(session, role=GlobalRole.steward)),
        "link_worker": client_for(make_user(session, role=GlobalRole.link_worker)),
    }


def _day(days: int) -> str:
    return (utcnow() + timedelta(days=days)).date().isoformat()


def _assurance(client, organisation):
    response = client.get(f"/v1/organisations/{organisation['id']}/assurance")
    assert response.status_code == 200, response.text
    return response.json()


def _queue(client, organisation):
    response = client.get(f"/v1/organisations/{organisation['id']}/review-queue")
    assert response.status_code == 200, response.text
    return [(e["type"], e["title"]) for e in response.json()["entries"]]


def _search(world, **params):
    response = world["link_worker"].get("/v1/referral-options", params=params)
    assert response.status_code == 200, response.text
    return {o["activity"]["id"]: o for o in response.json()["contents"]}


def _submit(client, organisation, body):
    return client.post(f"/v1/organisations/{organisation['id']}/assurance-items", json=body)


def test_an_organisation_walks_from_no_assurance_to_expired(world, clock):
    editor, steward, own, activity = (
        world["editor"],
        world["steward"],
        world["own"],
        world["activity"],
    )
    required = ["safeguarding_policy", "public_liability_insurance", "ico_registration"]

    # Nothing on record.
    start = _assurance(editor, own)
    assert (start["level"], start["missing"], start["items"]) == ("unassured", required, [])
    assert sorted(_queue(editor, own)) == sorted(
        ("assurance_missing", kind.replace("_", " ")) for kind in required
    )
    assert activity["id"] not in _search(world, assured_only="true")
    assert _search(world)[activity["id"]]["assurance_status"] == "unassured"

    # Submitted: pending until a steward looks.
    bodies = [
        {"kind": "safeguarding_policy", "has_policy": True, "last_reviewed_on": _day(-30),
         "review_due_on": _day(335), "evidence_reference": "https://docs.test.example/sg.pdf"},
        {"kind": "public_liability_insurance", "insurer": "Community Mutual",
         "expires_on": _day(60), "evidence_reference": "DOC-INS-7"},
        {"kind": "ico_registration", "registration_number": "ZB765432"},
    ]  # fmt: skip
    items = {}
    for body in bodies:
        response = _submit(editor, own, body)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "pending"
        items[body["kind"]] = response.json()
    submitted = _assurance(editor, own)
    assert (submitted["level"], submitted["missing"]) == ("pending", [])
    assert _queue(editor, own) == []
    assert activity["id"] not in _search(world, assured_only="true")

    # Verified: assured, and found by assured-only searches.
    for item in items.values():
        assert steward.post(f"/v1/assurance-items/{item['id']}/verify").status_code == 200
    verified = _assurance(editor, own)
    assert verified["level"] == "assured"
    assert verified["assured_until"] == _day(60)
    assert {i["status"] for i in verified["items"]} == {"verified"}
    assert activity["id"] in _search(world, assured_only="true")
    assert _search(world)[activity["id"]]["assurance_status"] == "assured"
    assert world["admin"].get(f"/v1/organisations/{own['id']}").json()["assurance_level"] == (
        "assured"
    )

    # 35 days on, the insurance lapses within 30 days: expiring, still assured.
    clock.travel(timedelta(days=35))
    expiring = _assurance(editor, own)
    statuses = {i["kind"]: i["status"] for i in expiring["items"]}
    assert statuses["public_liability_insurance"] == "expiring"
    assert expiring["level"] == "assured"
    assert _queue(editor, own) == [("assurance_expiring", "public liability insurance")]
    assert activity["id"] in _search(world, assured_only="true")

    # 65 days on, it has lapsed: expired and lapsed, out of assured-only search at once,
    # before any sweep has run.
    clock.travel(timedelta(days=30))
    expired = _assurance(editor, own)
    assert {i["kind"]: i["status"] for i in expired["items"]}["public_liability_insurance"] == (
        "expired"
    )
    assert expired["level"] == "lapsed"
    assert _queue(editor, own) == [("assurance_expired", "public liability insurance")]
    assert activity["id"] not in _search(world, assured_only="true")
    assert _search(world)[activity["id"]]["assurance_status"] == "lapsed"
    assert world["admin"].get(f"/v1/activities/{activity['id']}").json()["assurance_level"] == (
        "lapsed"
    )

    # The daily sweep records the expiry once, in the audit log.
    for expected in (1, 0):
        result = CliRunner().invoke(cli, ["assurance-sweep"])
        assert result.exit_code == 0, result.output
        assert f"recorded {expected} lapsed assurance items" in result.output
    audit = (
        world["admin"]
        .get("/v1/audit", params={"object_id": items["public_liability_insurance"]["id"]})
        .json()["contents"]
    )
    assert audit[0]["actor_type"] == "system"
    assert "expiry_recorded_on" in audit[0]["changes"]


def test_changing_verified_evidence_sends_it_back_to_pending_and_the_audit_keeps_it(world, session):
    [insurance] = assure(session, world["admin"], world["own"]["id"], [ASSURED_ITEMS[1]])
    path = f"/v1/assurance-items/{insurance['id']}"
    changed = patch(world["editor"], path, {"expires_on": "2028-06-30"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["review_status"], body["status"], body["expires_on"]) == (
        "pending",
        "pending",
        "2028-06-30",
    )
    history = world["admin"].get("/v1/audit", params={"object_id": insurance["id"]}).json()
    last = history["contents"][0]["changes"]
    assert last["review_status"] == {"before": "verified", "after": "pending"}
    assert last["expires_on"] == {"before": "2027-06-30", "after": "2028-06-30"}
    # Sending the same values again changes nothing and keeps the review.
    again = patch(world["editor"], path, {"expires_on": "2028-06-30"})
    assert again.json()["version"] == body["version"]


def test_rejection_tells_the_organisation_what_is_missing(world):
    response = _submit(world["editor"], world["own"], ASSURED_ITEMS[0])
    item = response.json()
    path = f"/v1/assurance-items/{item['id']}"
    assert world["steward"].post(f"{path}/reject", json={}).status_code == 422
    rejected = world["steward"].post(f"{path}/reject", json={"reason": "Policy is unsigned"})
    assert rejected.status_code == 200
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == (
        "rejected",
        "Policy is unsigned",
    )
    queue = world["editor"].get(f"/v1/organisations/{world['own']['id']}/review-queue").json()
    [entry] = [e for e in queue["entries"] if e["type"] == "assurance_rejected"]
    assert entry["action"] == "Rejected: Policy is unsigned"
    assert world["steward"].post(f"{path}/verify").status_code == 409  # resubmit first
    resubmitted = patch(world["editor"], path, {"evidence_reference": "DOC-SG-signed"})
    assert (resubmitted.json()["review_status"], resubmitted.json()["rejection_reason"]) == (
        "pending",
        None,
    )
    assert world["steward"].post(f"{path}/verify").status_code == 200
    assert world["steward"].post(f"{path}/verify").status_code == 409  # already verified


def test_a_lapsed_item_cannot_be_verified(world, clock):
    item = _submit(
        world["editor"],
        world["own"],
        {"kind": "public_liability_insurance", "insurer": "X", "expires_on": _day(5)},
    ).json()
    clock.travel(timedelta(days=6))
    response = world["steward"].post(f"/v1/assurance-items/{item['id']}/verify")
    assert response.status_code == 409
    assert "lapsed" in response.json()["detail"]


def test_who_sees_evidence_and_who_may_change_or_verify_it(world, anon):
    own, other = world["own"], world["other"]
    item = _submit(world["editor"], own, ASSURED_ITEMS[1]).json()
    path = f"/v1/assurance-items/{item['id']}"
    for reader in (world["editor"], world["steward"], world["admin"]):
        assert reader.get(path).json()["evidence_reference"] == "DOC-INS-1"
    for outsider in (world["other_editor"], world["link_worker"]):
        shown = outsider.get(path).json()
        assert (shown["evidence_reference"], shown["evidence_note"]) == (None, None)
        assert shown["status"] == "pending"  # the derived status is for everyone
        summary = _assurance(outsider, own)
        assert summary["level"] == "unassured"  # two required kinds still missing
        assert all(i["evidence_reference"] is None for i in summary["items"])
        assert "DOC-INS-1" not in str(summary)
    assert anon.get(path).status_code == 401
    assert anon.get(f"/v1/organisations/{own['id']}/assurance").status_code == 401

    # Organisation B's editor cannot submit for A or change A's items...
    assert _submit(world["other_editor"], own, ASSURED_ITEMS[0]).status_code == 403
    assert patch(world["other_editor"], path, {"insurer": "Mine"}).status_code == 403
    # ...and only stewards verify or reject, either organisation's items.
    for refused in (world["editor"], world["other_editor"], world["link_worker"], world["admin"]):
        assert refused.post(f"{path}/verify").status_code == 403
        assert refused.post(f"{path}/reject", json={"reason": "no"}).status_code == 403
    theirs = _submit(world["other_editor"], other, ASSURED_ITEMS[2]).json()
    assert world["steward"].post(f"{path}/verify").status_code == 200
    assert world["steward"].post(f"/v1/assurance-items/{theirs['id']}/verify").status_code == 200
    assert world["admin"].get(path).json()["insurer"] == "Community Mutual"
    # Stewards do not submit evidence themselves; the review queue is the organisation's.
    assert _submit(world["steward"], own, ASSURED_ITEMS[0]).status_code == 403
    queue = f"/v1/organisations/{own['id']}/review-queue"
    assert world["other_editor"].get(queue).status_code == 403
    assert world["link_worker"].get(queue).status_code == 403


def test_the_stewards_review_list(world):
    first = _submit(world["editor"], world["own"], ASSURED_ITEMS[0]).json()
    second = _submit(world["other_editor"], world["other"], ASSURED_ITEMS[1]).json()
    world["steward"].post(f"/v1/assurance-items/{second['id']}/verify")
    page = world["steward"].get("/v1/assurance-items", params={"review_status": "pending"}).json()
    assert [i["id"] for i in page["contents"]] == [first["id"]]
    assert page["contents"][0]["evidence_reference"] is not None
    assert world["editor"].get("/v1/assurance-items").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "training", "training_type_id": "T", "completed_on": "2026-05-01",
          "expires_on": "2026-04-01", "staff_trained": 1}, "body.expires_on"),
        ({"kind": "training", "training_type_id": "T", "completed_on": "2026-05-01",
          "staff_trained": -1}, "body.staff_trained"),
        ({"kind": "training", "training_type_id": "T", "completed_on": "2099-01-01",
          "staff_trained": 1}, "body.completed_on"),
        ({"kind": "training", "training_type_id": "T", "completed_on": "2026-05-01"},
         "body.staff_trained"),
        ({"kind": "training", "training_type_id": "NEED", "completed_on": "2026-05-01",
          "staff_trained": 1}, "body.training_type_id"),
        ({"kind": "safeguarding_policy", "has_policy": True, "last_reviewed_on": "2026-05-01",
          "review_due_on": "2026-04-01"}, "body.review_due_on"),
        ({"kind": "safeguarding_policy", "has_policy": True}, "body.last_reviewed_on"),
        ({"kind": "safeguarding_lead"}, "body.role_title"),
        ({"kind": "safeguarding_lead", "role_title": "Lead", "insurer": "X"}, "body.insurer"),
        ({"kind": "ico_registration", "registration_number": "12345678"},
         "body.registration_number"),
        ({"kind": "dbs_checks", "dbs_approach": "sometimes"}, "body.dbs_approach"),
        ({"kind": "public_liability_insurance", "insurer": "X", "expires_on": "2027-01-01",
          "evidence_reference": "has spaces"}, "body.evidence_reference"),
        ({"kind": "nonsense"}, "body.kind"),
    ],
)  # fmt: skip
def test_bad_assurance_is_refused_and_nothing_is_stored(world, session, body, field):
    body = dict(body)
    if body.get("training_type_id") == "T":
        body["training_type_id"] = world["terms"]["mental-health-first-aid"]
    elif body.get("training_type_id") == "NEED":
        body["training_type_id"] = world["terms"]["low-mood"]
    response = _submit(world["editor"], world["own"], body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert session.execute(text("SELECT count(*) FROM assurance_item")).scalar() == 0


def test_a_patch_is_held_to_the_same_rules(world):
    item = _submit(
        world["editor"],
        world["own"],
        {"kind": "training", "training_type_id": world["terms"]["first-aid"],
         "completed_on": "2026-05-01", "volunteers_trained": 4},
    ).json()  # fmt: skip
    path = f"/v1/assurance-items/{item['id']}"
    response = patch(world["editor"], path, {"expires_on": "2026-04-30"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.expires_on"
    assert world["editor"].get(path).json()["expires_on"] is None
    assert patch(world["editor"], path, {"kind": "ico_registration"}).status_code == 422


def test_one_record_per_kind_but_many_trainings(world):
    assert _submit(world["editor"], world["own"], ASSURED_ITEMS[2]).status_code == 201
    duplicate = _submit(world["editor"], world["own"], ASSURED_ITEMS[2])
    assert duplicate.status_code == 409
    course = {"kind": "training", "training_type_id": world["terms"]["suicide-awareness"],
              "completed_on": "2026-01-10", "staff_trained": 3}  # fmt: skip
    assert _submit(world["editor"], world["own"], course).status_code == 201
    assert _submit(world["editor"], world["own"], course).status_code == 201
    items = _assurance(world["editor"], world["own"])["items"]
    trainings = [i for i in items if i["kind"] == "training"]
    assert len(trainings) == 2
    assert trainings[0]["training_type"]["code"] == "suicide-awareness"


def test_the_rule_is_configurable(world, session, monkeypatch):
    monkeypatch.setenv("SIGNPOST_ASSURANCE_REQUIRED", '["ico_registration"]')
    get_settings.cache_clear()
    try:
        assure(session, world["admin"], world["own"]["id"], [ASSURED_ITEMS[2]])
        summary = _assurance(world["editor"], world["own"])
        assert (summary["level"], summary["rule"]["required"]) == (
            "assured",
            ["ico_registration"],
        )
        assert world["activity"]["id"] in _search(world, assured_only="true")
    finally:
        monkeypatch.delenv("SIGNPOST_ASSURANCE_REQUIRED")
        get_settings.cache_clear()


def test_a_policy_the_organisation_does_not_have_is_missing(world, session):
    no_policy = {"kind": "safeguarding_policy", "has_policy": False}
    assure(session, world["admin"], world["own"]["id"], [no_policy, *ASSURED_ITEMS[1:]])
    summary = _assurance(world["editor"], world["own"])
    assert (summary["level"], summary["missing"]) == ("unassured", ["safeguarding_policy"])
    assert world["activity"]["id"] not in _search(world, assured_only="true")


def test_listings_go_stale_and_drop_out_of_referral_search_but_not_out_of_sight(world, clock):
    activity, own, editor = world["activity"], world["own"], world["editor"]
    path = f"/v1/activities/{activity['id']}"
    assert editor.get(path).json()["freshness"]["status"] == "fresh"

    clock.travel(timedelta(days=200))
    assert editor.get(path).json()["freshness"]["status"] == "due_for_review"
    assert ("activity_due_for_review", "Walk and Talk") in _queue(editor, own)

    clock.travel(timedelta(days=200))
    result = _search(world)[activity["id"]]
    assert result["freshness"]["status"] == "stale"
    assert ("activity_stale", "Walk and Talk") in _queue(editor, own)

    clock.travel(timedelta(days=160))  # 560 days: past the hard limit
    assert activity["id"] not in _search(world)
    shown = editor.get(path).json()
    assert (shown["freshness"]["status"], shown["freshness"]["in_referral_search"]) == (
        "stale",
        False,
    )
    listed = world["link_worker"].get("/v1/activities", params={"organisation": own["id"]})
    assert activity["id"] in {a["id"] for a in listed.json()["contents"]}
    [entry] = [e for e in editor.get(f"/v1/organisations/{own['id']}/review-queue").json()[
        "entries"] if e["subject_id"] == activity["id"]]  # fmt: skip
    assert "no longer appears in referral search" in entry["action"]

    # Confirmed unchanged in one call: fresh, back in search, out of the queue.
    confirmed = editor.post(f"{path}/confirm")
    assert confirmed.status_code == 200
    assert confirmed.json()["freshness"]["status"] == "fresh"
    fresh_score = _search(world)[activity["id"]]["score"]
    assert fresh_score > result["score"]  # stale listings rank lower
    assert not [entry for entry in _queue(editor, own) if entry[0].startswith("activity")]
    assert world["link_worker"].post(f"{path}/confirm").status_code == 403
    assert world["other_editor"].post(f"{path}/confirm").status_code == 403


def test_a_hidden_organisations_assurance_does_not_exist_for_outsiders(world, session):
    draft = create_organisation(world["admin"], status="draft")
    draft_editor = client_for(make_user(session, member_of={draft["id"]: "editor"}))
    item = _submit(draft_editor, draft, ASSURED_ITEMS[2]).json()
    for outsider in (world["link_worker"], world["other_editor"]):
        assert outsider.get(f"/v1/assurance-items/{item['id']}").status_code == 404
        assert outsider.get(f"/v1/organisations/{draft['id']}/assurance").status_code == 404
    assert world["steward"].post(f"/v1/assurance-items/{item['id']}/verify").status_code == 200
    assert draft_editor.get(f"/v1/assurance-items/{item['id']}").json()["status"] == "verified"
