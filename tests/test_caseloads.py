"""A link worker's caseload (issue #19): teams whose members see and act on each other's
referrals, handing a referral to a colleague, and finding a person's referrals by the
link worker's own reference, through a keyed hash, never by decrypting every row."""

import uuid

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.accounts.models import GlobalRole
from app.audit.models import AuditEntry
from app.cli import cli
from app.referrals.models import Referral
from tests.factories import client_for, make_user
from tests.referral_world import build_world


@pytest.fixture
def world(session, client):
    return build_world(session, client)


@pytest.fixture
def team(session, client, world):
    """Two link workers in one team (the world's sender, ``me``, and ``colleague``), and
    an ``outsider`` link worker in none."""
    me_id = uuid.UUID(world.link_worker.get("/v1/me").json()["id"])
    colleague = make_user(session, role=GlobalRole.link_worker)
    created = client.post("/v1/teams", json={"name": "East PCN link workers"})
    assert created.status_code == 201, created.text
    team_id = created.json()["id"]
    for user_id in (me_id, colleague.id):
        added = client.put(f"/v1/teams/{team_id}/members/{user_id}")
        assert added.status_code == 200, added.text
    return {
        "id": team_id,
        "me": me_id,
        "colleague": client_for(colleague),
        "colleague_id": colleague.id,
        "outsider": world.other_link_worker,
    }


def test_team_mates_see_and_act_on_each_others_referrals(world, team, session):
    referral = world.refer()
    listed = team["colleague"].get("/v1/referrals").json()
    assert [r["id"] for r in listed["contents"]] == [referral["id"]]
    assert listed["contents"][0]["person_reference"] == "LW-2291"
    read = team["colleague"].get(f"/v1/referrals/{referral['id']}")
    assert read.status_code == 200
    assert read.json()["contact"]["first_name"] == "Sam"
    # Someone outside the team: nothing listed, 404 on the id.
    assert team["outsider"].get("/v1/referrals").json()["contents"] == []
    assert team["outsider"].get(f"/v1/referrals/{referral['id']}").status_code == 404
    # The colleague acts, audited as themselves.
    withdrawn = world.move(referral["id"], "withdrawn", team["colleague"])
    assert withdrawn.status_code == 200, withdrawn.text
    last = withdrawn.json()["history"][-1]
    assert (last["actor_id"], last["to_status"]) == (str(team["colleague_id"]), "withdrawn")
    # Out of the team, out of the caseload at once.
    team_path = f"/v1/teams/{team['id']}/members/{team['colleague_id']}"
    assert world.admin.delete(team_path).status_code == 200
    assert team["colleague"].get(f"/v1/referrals/{referral['id']}").status_code == 404


def test_a_referral_is_handed_to_a_colleague(world, team, session):
    referral = world.refer()
    handed = world.link_worker.post(
        f"/v1/referrals/{referral['id']}/handover", json={"to_user_id": str(team["colleague_id"])}
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["referrer"]["id"] == str(team["colleague_id"])
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.object_id == uuid.UUID(referral["id"]))
    ).all()
    [handover] = [e for e in entries if "referrer_id" in (e.changes or {})]
    assert handover.changes["referrer_id"] == {
        "before": str(team["me"]),
        "after": str(team["colleague_id"]),
    }
    # Not to someone outside the team; and not by someone outside it.
    outsider_id = team["outsider"].get("/v1/me").json()["id"]
    refused = team["colleague"].post(
        f"/v1/referrals/{referral['id']}/handover", json={"to_user_id": outsider_id}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.to_user_id"
    stranger = team["outsider"].post(
        f"/v1/referrals/{referral['id']}/handover", json={"to_user_id": outsider_id}
    )
    assert stranger.status_code == 404


def test_a_persons_referrals_are_found_by_reference(world, team, session):
    first = world.refer(person_reference="LW-2291")
    second = world.refer(person_reference="lw 2291")  # typed another way
    other = world.refer(person_reference="LW-7000")
    found = world.link_worker.get("/v1/referrals", params={"person": "LW2291"}).json()
    assert {r["id"] for r in found["contents"]} == {first["id"], second["id"]}
    by_colleague = team["colleague"].get("/v1/referrals", params={"person": "lw-7000"}).json()
    assert [r["id"] for r in by_colleague["contents"]] == [other["id"]]
    # Someone else's reference finds nothing for those who may not see those referrals.
    assert (
        team["outsider"].get("/v1/referrals", params={"person": "LW-2291"}).json()["contents"] == []
    )
    # Stored as a keyed hash beside the encrypted value, never the reference itself.
    stored = session.get(Referral, uuid.UUID(first["id"]))
    assert stored.person_ref_hash and "2291" not in stored.person_ref_hash
    assert "2291" not in (stored.personal_data or "")


def test_referrals_from_before_are_hashed_by_migrate(world, session):
    referral = world.refer()
    stored = session.get(Referral, uuid.UUID(referral["id"]))
    stored.person_ref_hash = None
    session.commit()
    result = CliRunner().invoke(cli, ["migrate"])
    assert "1 referrals can now be found by their person reference" in result.output
    found = world.link_worker.get("/v1/referrals", params={"person": "LW-2291"}).json()
    assert [r["id"] for r in found["contents"]] == [referral["id"]]


def test_teams_are_kept_by_stewards_and_read_by_members(world, team, session):
    assert team["colleague"].get(f"/v1/teams/{team['id']}").status_code == 200
    mine = team["colleague"].get("/v1/teams").json()["contents"]
    assert [t["name"] for t in mine] == ["East PCN link workers"]
    assert team["outsider"].get(f"/v1/teams/{team['id']}").status_code == 404
    assert team["outsider"].get("/v1/teams").json()["contents"] == []
    assert team["colleague"].post("/v1/teams", json={"name": "Mine"}).status_code == 403
    commissioner = make_user(session, role=GlobalRole.commissioner)
    refused = world.admin.put(f"/v1/teams/{team['id']}/members/{commissioner.id}")
    assert refused.status_code == 422
    duplicate = world.admin.post("/v1/teams", json={"name": "East PCN link workers"})
    assert duplicate.status_code == 409
