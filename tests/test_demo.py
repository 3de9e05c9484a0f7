from collections import Counter

from typer.testing import CliRunner

from app.cli import cli
from app.demo.data import KINDS, ORGANISATIONS
from app.vocabulary.seed import CATEGORIES

ACTIVITIES = sum(len(KINDS[kind]) for _, _, kind, *_ in ORGANISATIONS)


def test_seed_demo_loads_a_realistic_directory_once(client, anon):
    runner = CliRunner()
    first = runner.invoke(cli, ["seed-demo"])
    assert first.exit_code == 0, first.output
    assert f"{len(ORGANISATIONS)} organisations, {ACTIVITIES} activities" in first.output

    # What a newcomer sees without signing in: one draft organisation stays hidden.
    draft_activities = len(KINDS[ORGANISATIONS[-1][2]])
    activities = anon.get("/v1/activities", params={"per_page": 50}).json()
    assert activities["total_items"] == ACTIVITIES - draft_activities
    assert client.get("/v1/activities").json()["total_items"] == ACTIVITIES
    organisations = client.get("/v1/organisations", params={"per_page": 100}).json()
    assert organisations["total_items"] >= 40

    second = runner.invoke(cli, ["seed-demo"])
    assert "already exist" in second.output
    again = anon.get("/v1/activities", params={"per_page": 50}).json()
    assert again["total_items"] == activities["total_items"]


def test_demo_covers_the_research_activity_kinds_and_shares_venues(client):
    CliRunner().invoke(cli, ["seed-demo"])
    pages = [
        client.get("/v1/activities", params={"per_page": 100, "page": n}).json() for n in (1, 2)
    ]
    activities = [a for page in pages for a in page["contents"]]
    categories = {t["code"] for a in activities for t in a["terms"]}
    # Every category but the "advice" umbrella (its children are used instead).
    assert set(CATEGORIES) - {"advice"} <= categories

    organisations_per_venue = Counter()
    for venue_id in {v["id"] for a in activities for v in a["venues"]}:
        hosted = client.get("/v1/activities", params={"venue": venue_id, "per_page": 100}).json()
        hosts = {a["organisation"]["id"] for a in hosted["contents"]}
        organisations_per_venue[venue_id] = len(hosts)
    assert max(organisations_per_venue.values()) >= 3

    assert {mode for a in activities for mode in a["delivery_modes"]} == {
        "in_person",
        "online",
        "phone",
        "home_visit",
    }
    assert {a["cost_type"] for a in activities} == {"free", "donation", "fee"}
    assert any(a["minimum_age"] for a in activities)
    assert all(a["schedules"] for a in activities)
    assert all(
        51.3 < v["latitude"] < 51.6 and -2.8 < v["longitude"] < -2.4
        for a in activities
        for v in a["venues"]
    )


def test_demo_accounts_sign_in_with_the_demo_password(anon):
    from app.core.config import get_settings
    from app.demo.seed import DEMO_ACCOUNTS

    CliRunner().invoke(cli, ["seed-demo"])
    password = get_settings().demo_password.get_secret_value()
    roles = {}
    for email, *_ in DEMO_ACCOUNTS:
        response = anon.post("/v1/auth/token", data={"username": email, "password": password})
        assert response.status_code == 200, email
        token = response.json()["access_token"]
        me = anon.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
        roles[email.split("@")[0]] = (me["role"], [m["role"] for m in me["memberships"]])
    assert roles == {
        "admin": ("admin", []),
        "steward": ("steward", []),
        "commissioner": ("commissioner", []),
        "linkworker": ("link_worker", []),
        "orgadmin": (None, ["admin"]),
        "editor": (None, ["editor"]),
        "claimant": (None, []),
    }


def test_demo_has_a_pending_invitation_and_a_pending_claim(client):
    CliRunner().invoke(cli, ["seed-demo"])
    invitations = [
        i
        for page in [client.get("/v1/organisations", params={"per_page": 100}).json()]
        for o in page["contents"]
        for i in client.get(f"/v1/organisations/{o['id']}/invitations").json()["contents"]
    ]
    assert [(i["email"], i["status"]) for i in invitations] == [
        ("volunteer@demo.signpost.example", "pending")
    ]
    claims = client.get("/v1/claims", params={"status": "pending"}).json()["contents"]
    assert len(claims) == 1 and claims[0]["role_email"].startswith("coordinator@")


def test_demo_ships_bristol_its_neighbourhoods_and_pcns(client):
    assert CliRunner().invoke(cli, ["seed-demo"]).exit_code == 0
    areas = client.get("/v1/areas", params={"per_page": 100}).json()["contents"]
    kinds = Counter(a["kind"] for a in areas)
    assert kinds == {"local_authority": 1, "neighbourhood": 3, "pcn": 2}
    bristol = next(a for a in areas if a["kind"] == "local_authority")
    assert bristol["name"] == "City of Bristol"
    assert all(a["parent_id"] == bristol["id"] for a in areas if a is not bristol)
    # Organisations that typed "Bristol" declare the city; every area holds listings.
    organisations = client.get("/v1/organisations", params={"per_page": 100}).json()
    declared = [o for o in organisations["contents"] if o["served_areas"]]
    assert declared and all(
        [a["name"] for a in o["served_areas"]] == ["City of Bristol"] for o in declared
    )
    for area in areas:
        capacity = client.get("/v1/reports/capacity", params={"area": area["id"]}).json()
        assert capacity["rows"][0]["activities"] not in (0, "<5"), area["name"]


def test_the_demo_shows_the_coming_christmas_closure(client, anon):
    assert CliRunner().invoke(cli, ["seed-demo"]).exit_code == 0
    first = ORGANISATIONS[0][0]
    [organisation] = [
        o
        for o in client.get("/v1/organisations", params={"per_page": 100}).json()["contents"]
        if o["name"] == first
    ]
    [closure] = anon.get(f"/v1/organisations/{organisation['id']}/closures").json()
    assert (closure["starts_on"][5:], closure["ends_on"][5:]) == ("12-24", "01-02")
    assert closure["activity_id"] is None
