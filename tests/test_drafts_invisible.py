"""A draft organisation exists only for its members, stewards and admins: generated from
the same route table as the authorisation matrix, every read by everyone else is checked
for the draft's name and ids, and every route that takes an id answers a draft's id
exactly as it answers an id that does not exist (no 403-versus-404 tell)."""

import re
import uuid

import pytest

from tests.factories import create_activity, create_organisation, create_venue
from tests.test_authorization_matrix import PUBLIC, RULES, build_world

PRIVILEGED = {"steward", "admin"}
OUTSIDERS = [
    "anonymous",
    "link_worker",
    "commissioner",
    "commissioner_key",
    "own_editor",
    "own_admin",
    "other_editor",
    "other_admin",
]
DRAFT_NAME = "Zephyr Quietly Unpublished Collective"
# The world's ids that have a draft counterpart.
COUNTERPARTS = ("own_org", "own_venue", "own_activity", "item", "need", "shared_need", "offer")
# Each report by its finest grouping that names or places organisations.
REPORTS = {
    "referrals": "organisation",
    "capacity": "organisation",
    "capacity-history": "organisation",
    "support-needs": "area",
    "assurance": "area",
}


@pytest.fixture
def world(session, client):
    return build_world(session, client)


@pytest.fixture
def draft(world, client):
    organisation = create_organisation(client, name=DRAFT_NAME, status="draft")
    venue = create_venue(client, managed_by_organisation_id=organisation["id"])
    activity = create_activity(
        client, organisation["id"], venue_ids=[venue["id"]], access_modes=["referral"]
    )
    base = f"/v1/organisations/{organisation['id']}"
    category = world["support_category"]
    need_body = {"category_id": category, "urgency": "high", "description": "Draft help"}
    need = client.post(f"{base}/support-needs", json=need_body).json()
    shared = client.post(f"{base}/support-needs", json={**need_body, "visibility": "peers"}).json()
    offer = client.post(
        f"{base}/support-offers", json={"category_id": category, "description": "Draft offer"}
    ).json()
    item = client.post(
        f"{base}/assurance-items",
        json={
            "kind": "public_liability_insurance",
            "insurer": "Mutual",
            "expires_on": "2099-01-01",
        },
    ).json()
    capacity = f"/v1/activities/{activity['id']}/capacity"
    paused = client.patch(
        capacity,
        json={"status": "paused", "pause_reason": "staff_capacity"},
        headers={"If-Match": "*"},
    )
    assert paused.status_code == 200, paused.text
    ids = {
        "own_org": organisation["id"],
        "own_venue": venue["id"],
        "own_activity": activity["id"],
        "item": item["id"],
        "need": need["id"],
        "shared_need": shared["id"],
        "offer": offer["id"],
    }
    assert all(ids.values())
    return ids


def _draft_traces(draft_ids: dict[str, str]) -> re.Pattern:
    return re.compile("|".join(map(re.escape, [DRAFT_NAME, *draft_ids.values()])))


def _reads(world):
    """Every GET the route table knows, as built for the world, plus list filters that
    would reveal a draft if any rule forgot it."""
    paths = [build(world)[0] for (method, _), (_, _, build) in RULES.items() if method == "GET"]
    paths += [p.format(**world["ids"]) for (m, _), p in PUBLIC.items() if m == "GET" and p]
    paths += [
        "/v1/support-needs?peers=true",
        "/v1/support-offers?include_withdrawn=true",
        f"/v1/support-needs/{world['ids']['shared_need']}/matches",
        "/v1/organisations?status=draft&include_archived=true",
        "/v1/activities?include_archived=true&per_page=100",
        "/v1/venues?per_page=100",
    ]
    for report, grouping in REPORTS.items():
        paths.append(f"/v1/reports/{report}?group_by={grouping}")
        paths.append(f"/v1/reports/{report}?group_by={grouping}&format=csv")
    return paths


@pytest.mark.parametrize("caller", OUTSIDERS)
def test_no_read_shows_a_draft_to_outsiders(world, draft, caller):
    traces = _draft_traces(draft)
    client = world["callers"][caller]
    for path in _reads(world):
        response = client.get(path)
        assert response.status_code < 500, (path, response.text)
        found = traces.search(response.text)
        assert found is None, f"{caller} saw {found.group(0)!r} at {path}"


@pytest.mark.parametrize("caller", sorted(PRIVILEGED))
def test_stewards_and_admins_do_see_the_draft(world, draft, caller):
    client = world["callers"][caller]
    assert client.get(f"/v1/organisations/{draft['own_org']}").json()["name"] == DRAFT_NAME
    offers = client.get("/v1/support-offers").json()["contents"]
    assert draft["offer"] in {o["id"] for o in offers}
    report = client.get("/v1/reports/capacity-history", params={"group_by": "organisation"})
    assert DRAFT_NAME in report.text


def _with_ids(world, replacement: dict[str, str]):
    return {**world, "ids": {**world["ids"], **replacement}}


@pytest.mark.parametrize("caller", OUTSIDERS)
def test_a_drafts_ids_answer_like_ids_that_do_not_exist(world, draft, caller):
    client = world["callers"][caller]
    nothing = {key: str(uuid.uuid4()) for key in COUNTERPARTS}
    checked, tells = 0, []
    for route, (_, _, build) in sorted(RULES.items()):
        path, _, _ = build(world)
        if not any(world["ids"][key] in path for key in COUNTERPARTS):
            continue  # the route takes no id a draft could have
        answers = []
        for ids in (draft, nothing):
            path, body, headers = build(_with_ids(world, ids))
            answers.append(client.request(route[0], path, json=body, headers=headers).status_code)
        checked += 1
        if answers[0] != answers[1] or answers[0] < 400:
            tells.append(f"{route}: draft {answers[0]}, no such id {answers[1]}")
    assert checked > 20
    assert not tells, "\n".join(tells)
