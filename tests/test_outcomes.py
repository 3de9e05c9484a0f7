"""Outcomes (issue #19): ONS4 personal wellbeing at referral, follow-up and completion, the
change, who may record and read it, and the mean change in the referrals report with the
small-number rule, by activity, organisation, need and area."""

from datetime import timedelta

import pytest

from app.search.schedule import uk_today
from tests.factories import create_venue, patch
from tests.referral_world import build_world

LOW = {"life_satisfaction": 3, "worthwhile": 4, "happiness": 2, "anxiety": 8}
BETTER = {"life_satisfaction": 6, "worthwhile": 6, "happiness": 5, "anxiety": 4}


@pytest.fixture
def world(session, client):
    return build_world(session, client)


def put(client, referral_id, stage, body):
    return client.put(f"/v1/referrals/{referral_id}/wellbeing/{stage}", json=body)


def test_baseline_at_referral_and_the_change_at_completion(world):
    referral = world.refer(wellbeing=LOW)
    path = f"/v1/referrals/{referral['id']}/wellbeing"
    first = world.link_worker.get(path)
    assert first.status_code == 200, first.text
    body = first.json()
    assert {k: body["baseline"][k] for k in LOW} == LOW
    assert body["baseline"]["measured_on"] == uk_today().isoformat()
    assert (body["follow_up"], body["completion"], body["change"]) == (None, None, None)

    follow = put(world.link_worker, referral["id"], "follow_up", {**LOW, "happiness": 4})
    assert follow.status_code == 200, follow.text
    assert follow.json()["compared"] == "follow_up"
    assert follow.json()["change"] == {
        "life_satisfaction": 0,
        "worthwhile": 0,
        "happiness": 2,
        "anxiety": 0,
    }
    done = put(world.provider, referral["id"], "completion", BETTER)  # the provider may too
    assert done.status_code == 200, done.text
    assert done.json()["compared"] == "completion"
    assert done.json()["change"] == {
        "life_satisfaction": 3,
        "worthwhile": 2,
        "happiness": 3,
        "anxiety": -4,
    }
    # Answering again replaces that stage's answers.
    again = put(world.link_worker, referral["id"], "completion", {**BETTER, "anxiety": 2})
    assert again.json()["change"]["anxiety"] == -6
    assert world.link_worker.get(path).json()["completion"]["anxiety"] == 2


def test_a_baseline_can_come_later_and_dates_are_checked(world):
    referral = world.refer()
    yesterday = (uk_today() - timedelta(days=1)).isoformat()
    made = put(world.link_worker, referral["id"], "baseline", {**LOW, "measured_on": yesterday})
    assert made.status_code == 200, made.text
    assert made.json()["baseline"]["measured_on"] == yesterday
    tomorrow = (uk_today() + timedelta(days=1)).isoformat()
    late = put(world.link_worker, referral["id"], "completion", {**LOW, "measured_on": tomorrow})
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "body.measured_on"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"anxiety": 11}, "anxiety"),
        ({"happiness": -1}, "happiness"),
        ({"worthwhile": "lots"}, "worthwhile"),
        ({"life_satisfaction": 5.5}, "life_satisfaction"),
        ({"mood": 3}, "mood"),
    ],
)
def test_answers_out_of_range_are_refused_naming_the_question(world, change, field):
    referral = world.refer(wellbeing=LOW)
    answer = put(world.link_worker, referral["id"], "completion", {**BETTER, **change})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == [f"body.{field}"]
    stored = world.link_worker.get(f"/v1/referrals/{referral['id']}/wellbeing").json()
    assert stored["completion"] is None and stored["baseline"]["anxiety"] == LOW["anxiety"]


def test_a_bad_baseline_refuses_the_whole_referral(world):
    before = world.link_worker.get("/v1/referrals").json()["total_items"]
    answer = world.link_worker.post(
        "/v1/referrals", json=world.referral_body(wellbeing={**LOW, "anxiety": 12})
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.wellbeing.anxiety"
    assert world.link_worker.get("/v1/referrals").json()["total_items"] == before


def test_an_unknown_stage_is_422(world):
    referral = world.refer()
    answer = put(world.link_worker, referral["id"], "halfway", LOW)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "path.stage"


def test_only_those_who_may_read_the_referral_see_or_record_wellbeing(world, anon):
    referral = world.refer(wellbeing=LOW)
    path = f"/v1/referrals/{referral['id']}/wellbeing"
    for outsider in (world.other_link_worker, world.other_org, world.commissioner, world.steward):
        assert outsider.get(path).status_code == 404
        assert put(outsider, referral["id"], "completion", BETTER).status_code == 404
    assert anon.get(path).status_code == 401
    assert world.link_worker.get(path).json()["completion"] is None  # nothing was stored
    assert world.provider.get(path).status_code == 200
    assert world.admin.get(path).status_code == 200


def test_the_audit_log_says_who_recorded_and_read_but_not_the_answers(world):
    referral = world.refer(wellbeing=LOW)
    world.provider.get(f"/v1/referrals/{referral['id']}/wellbeing")
    log = world.admin.get("/v1/audit", params={"per_page": 100}).json()["contents"]
    [created] = [e for e in log if e["object_type"] == "wellbeing_score"]
    assert created["action"] == "create"
    for question in LOW:
        assert created["changes"][question]["after"] == "[redacted]"
    assert created["changes"]["stage"]["after"] == "baseline"
    reads = [
        e
        for e in log
        if e["object_type"] == "referral"
        and e["action"] == "read"
        and e["changes"] == {"read": ["wellbeing"]}
    ]
    assert len(reads) == 1


def _outcomes_world(world, client, measured: int, unmeasured: int = 2):
    """``measured`` referrals with a baseline and a completion, ``unmeasured`` with a
    baseline only; the walk meets in Easton (BS5 6AW)."""
    area = client.post(
        "/v1/areas", json={"kind": "ward", "name": "Easton", "places": ["BS5 6"]}
    ).json()
    venue = create_venue(client)
    linked = patch(client, f"/v1/activities/{world.activity['id']}", {"venue_ids": [venue["id"]]})
    assert linked.status_code == 200, linked.text
    for number in range(measured):
        referral = world.refer(wellbeing=LOW)
        after = {**BETTER, "happiness": BETTER["happiness"] + number % 2}  # 5 or 6
        assert put(world.link_worker, referral["id"], "completion", after).status_code == 200
        world.move(referral["id"], "accepted")
    for _ in range(unmeasured):
        world.refer(wellbeing=LOW)
    return area


@pytest.mark.parametrize("group", ["activity", "organisation", "need", "area"])
def test_the_referrals_report_shows_the_mean_change(world, client, group):
    area = _outcomes_world(world, client, measured=6)
    params = {"group_by": group, "area_kind": "ward"}
    report = world.commissioner.get("/v1/reports/referrals", params=params)
    assert report.status_code == 200, report.text
    rows = report.json()["rows"]
    if group == "need":
        rows = [r for r in rows if r["need"] == "social-isolation"]
    if group == "area":
        rows = [r for r in rows if r["area_id"] == area["id"]]
    [row] = rows
    assert row["referrals"] == 8
    assert row["wellbeing_measured"] == 6
    assert row["mean_life_satisfaction_change"] == 3.0
    assert row["mean_worthwhile_change"] == 2.0
    assert row["mean_happiness_change"] == 3.5  # three of +3, three of +4
    assert row["mean_anxiety_change"] == -4.0
    csv_text = world.commissioner.get(
        "/v1/reports/referrals", params={**params, "format": "csv"}
    ).text
    assert "mean_happiness_change" in csv_text.splitlines()[0]


def test_fewer_than_five_measured_shows_no_mean(world, client):
    _outcomes_world(world, client, measured=4)
    [row] = world.commissioner.get("/v1/reports/referrals").json()["rows"]
    assert row["wellbeing_measured"] == "<5"
    assert row["mean_happiness_change"] is None
    assert row["mean_anxiety_change"] is None


def test_wellbeing_outlives_the_purge_of_personal_data(world, client, session, clock):
    from app.core.types import utcnow
    from app.referrals.service import purge_personal_data

    _outcomes_world(world, client, measured=5, unmeasured=0)
    for referral in world.link_worker.get("/v1/referrals").json()["contents"]:
        world.move(referral["id"], "withdrawn", world.link_worker)
    clock.travel(timedelta(days=120))
    assert purge_personal_data(session, utcnow(), 90) == 5
    session.commit()
    params = {"from": (uk_today() - timedelta(days=150)).isoformat()}
    [row] = world.commissioner.get("/v1/reports/referrals", params=params).json()["rows"]
    assert row["wellbeing_measured"] == 5
    assert row["mean_anxiety_change"] == -4.0


def test_a_link_workers_day_as_the_readme_tells_it(world, client, session):
    """Search near the person, give them a summary, send with their wellbeing, a team-mate
    follows up and records the outcome, and the commissioner sees it in the report."""
    from app.accounts.models import GlobalRole
    from tests.factories import client_for, make_user

    venue = create_venue(client)  # BS5 6AW
    patch(client, f"/v1/activities/{world.activity['id']}", {
        "venue_ids": [venue["id"]], "term_ids": [world.needs["social-isolation"]]})  # fmt: skip
    colleague = make_user(session, role=GlobalRole.link_worker)
    team = client.post("/v1/teams", json={"name": "East PCN link workers"}).json()
    for user_id in (world.link_worker.get("/v1/me").json()["id"], colleague.id):
        assert client.put(f"/v1/teams/{team['id']}/members/{user_id}").status_code == 200
    colleague = client_for(colleague)
    sent = []
    for number in range(5):
        # 1. Search near the person.
        found = world.link_worker.get(
            "/v1/referral-options", params={"postcode": "BS5 6AW", "need": "lonely"}
        ).json()["contents"]
        assert world.activity["id"] in [o["activity"]["id"] for o in found]
        # 2. The summary to give them.
        summary = world.link_worker.get(
            f"/v1/referral-options/{world.activity['id']}/summary", params={"format": "sms"}
        )
        assert summary.status_code == 200 and len(summary.text) <= 160
        # 3. Send it, with their wellbeing at the start.
        sent.append(world.refer(person_reference=f"LW-{number}", wellbeing=LOW))
    for number, referral in enumerate(sent):
        # 4. A team-mate finds the person's referrals and records how they got on.
        [mine] = colleague.get("/v1/referrals", params={"person": f"lw {number}"}).json()[
            "contents"
        ]
        assert mine["id"] == referral["id"]
        assert put(colleague, referral["id"], "completion", BETTER).status_code == 200
    # 5. The outcome shows in the commissioner's report.
    report = world.commissioner.get("/v1/reports/referrals", params={"group_by": "activity"})
    [row] = report.json()["rows"]
    assert (row["wellbeing_measured"], row["mean_life_satisfaction_change"]) == (5, 3.0)


def test_stages_recorded_at_once_leave_the_change_of_both(world):
    """The baseline and the completion arrive together: the referral's stored change is
    computed from both (the referral row is locked while each is recorded)."""
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    from sqlmodel import Session

    from app.core.db import get_engine
    from app.referrals.models import Referral

    for _ in range(3):
        referral = world.refer()
        path = referral["id"]
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda stage_body, path=path: put(world.link_worker, path, *stage_body),
                    [("baseline", LOW), ("completion", BETTER)],
                )
            )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        with Session(get_engine()) as fresh:
            stored = fresh.get(Referral, uuid.UUID(referral["id"]))
            assert (stored.life_satisfaction_change, stored.anxiety_change) == (3, -4)
