"""Areas as data (issue #18): keeping them, placing venues, organisations and searches in
them, every report reading `area` the same way, the area profile, and commissioners
limited to their areas."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from app.accounts.models import GlobalRole
from app.areas.models import Area
from app.cli import cli
from app.core.config import get_settings
from app.core.types import utcnow
from app.search.models import SearchLog
from tests.factories import (
    client_for,
    create_activity,
    create_organisation,
    create_venue,
    key_client,
    make_api_key,
    make_user,
    patch,
)

REPORTS = ["referrals", "capacity", "capacity-history", "unmet-demand", "assurance",
           "support-needs", "area-profile"]  # fmt: skip


def _created(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def _area(client, **body) -> dict:
    return _created(client.post("/v1/areas", json=body))


@pytest.fixture
def places(client, terms):
    """Two wards of one city, drawn by postcode sector, and a PCN by district; venues and
    activities entered through the API in each; searches centred in each."""
    city = _area(client, kind="local_authority", name="Bristol", code="E06000023",
                 places=["BS5", "BS3"])  # fmt: skip
    easton = _area(client, kind="ward", name="Easton", parent_id=city["id"], places=["bs5 6"])
    bedminster = _area(client, kind="ward", name="Bedminster", parent_id=city["id"],
                       places=["BS3 4"])  # fmt: skip
    pcn = _area(client, kind="pcn", name="East PCN", code="U12345", places=["BS5"])
    organisation = create_organisation(client, status="published")
    remote = create_organisation(client, status="published", served_area_ids=[easton["id"]])
    in_easton = create_venue(client, postcode="BS5 6AW")
    in_lawrence_hill = create_venue(client, postcode="BS5 0HE")  # BS5, not the Easton ward
    in_bedminster = create_venue(client, postcode="BS3 4LZ")
    made = {
        "at_easton": [
            create_activity(
                client,
                organisation["id"],
                venue_ids=[in_easton["id"]],
                term_ids=[terms["walking-and-physical-activity"]],
            )
            for _ in range(6)
        ],
        "at_lawrence_hill": [
            create_activity(client, organisation["id"], venue_ids=[in_lawrence_hill["id"]])
            for _ in range(2)
        ],
        "at_bedminster": [
            create_activity(client, organisation["id"], venue_ids=[in_bedminster["id"]])
            for _ in range(5)
        ],
        "phone_service": [create_activity(client, remote["id"], delivery_modes=["phone"])],
    }
    return {"city": city, "easton": easton, "bedminster": bedminster, "pcn": pcn,
            "organisation": organisation, "remote": remote, **made}  # fmt: skip


@pytest.fixture
def commissioner(session):
    return client_for(make_user(session, role=GlobalRole.commissioner))


def _report(client, name, **params):
    response = client.get(f"/v1/reports/{name}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


# --- keeping areas ----------------------------------------------------------------------


def test_stewards_keep_areas_and_everyone_reads_them(client, anon, places, session):
    easton = anon.get(f"/v1/areas/{places['easton']['id']}")
    assert easton.status_code == 200
    assert easton.json()["places"] == ["BS5 6"]  # normalised as typed
    assert easton.json()["parent_id"] == places["city"]["id"]
    listed = anon.get("/v1/areas", params={"kind": "ward"}).json()
    assert [a["name"] for a in listed["contents"]] == ["Bedminster", "Easton"]
    assert anon.get("/v1/areas", params={"q": "u12345"}).json()["contents"][0]["name"] == (
        "East PCN"
    )

    changed = patch(client, f"/v1/areas/{places['easton']['id']}", {"places": ["BS5 6", "BS5 7"]})
    assert changed.status_code == 200
    assert changed.json()["places"] == ["BS5 6", "BS5 7"]
    stale = client.patch(
        f"/v1/areas/{places['easton']['id']}", json={"name": "X"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    history = client.get("/v1/audit", params={"object_id": places["easton"]["id"]}).json()
    assert any(
        e["changes"].get("places", {}).get("after") == ["BS5 6", "BS5 7"]
        for e in history["contents"]
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "ward", "name": "X", "places": ["ZZ99"]}, "body.places.0"),
        ({"kind": "ward", "name": "X", "places": ["BS5 6AW"]}, "body.places.0"),
        ({"kind": "ward", "name": "X", "places": []}, "body.places"),
        ({"kind": "county", "name": "X", "places": ["BS5"]}, "body.kind"),
        ({"kind": "ward", "name": "X", "places": ["BS5"], "code": "e0-1"}, "body.code"),
        (
            {"kind": "ward", "name": "X", "places": ["BS5"], "parent_id": str(uuid.uuid4())},
            "body.parent_id",
        ),
    ],
)
def test_bad_areas_are_refused_naming_the_field(client, body, field):
    response = client.post("/v1/areas", json=body)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


def test_codes_are_unique_and_areas_in_use_stay(client, places, session):
    taken = client.post(
        "/v1/areas", json={"kind": "pcn", "name": "Other", "code": "U12345", "places": ["BS3"]}
    )
    assert taken.status_code == 409
    # Another area lies within the city: it cannot go.
    assert client.delete(f"/v1/areas/{places['city']['id']}").status_code == 409
    # A commissioner is limited to the PCN: it cannot go.
    make_user(session, role=GlobalRole.commissioner)
    limited = make_user(session, role=GlobalRole.commissioner)
    assert (
        patch(client, f"/v1/users/{limited.id}", {"area_ids": [places["pcn"]["id"]]}).status_code
        == 200
    )
    assert client.delete(f"/v1/areas/{places['pcn']['id']}").status_code == 409
    # A ward nobody depends on goes, and organisations that declared it stop declaring it.
    assert client.delete(f"/v1/areas/{places['easton']['id']}").status_code == 204
    remote = client.get(f"/v1/organisations/{places['remote']['id']}").json()
    assert remote["served_areas"] == []
    assert session.get(Area, uuid.UUID(places["easton"]["id"])) is None


def test_organisations_declare_areas_by_id(client, places):
    remote = client.get(f"/v1/organisations/{places['remote']['id']}").json()
    assert [a["name"] for a in remote["served_areas"]] == ["Easton"]
    unknown = patch(
        client,
        f"/v1/organisations/{places['remote']['id']}",
        {"served_area_ids": [str(uuid.uuid4())]},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.served_area_ids"


# --- one meaning of "in an area" -------------------------------------------------------


def test_every_report_refuses_an_unknown_area(commissioner):
    for name in REPORTS:
        for area in ("Bristol", str(uuid.uuid4()), "E99999999"):
            response = commissioner.get(f"/v1/reports/{name}", params={"area": area})
            assert response.status_code == 422, (name, area)
            assert response.json()["errors"][0]["field"] == "query.area"


def test_capacity_counts_the_activities_whose_venues_lie_in_the_area(commissioner, places):
    def activities(area):
        return _report(commissioner, "capacity", area=area)["rows"][0]["activities"]

    assert activities(places["easton"]["id"]) == 6  # sector BS5 6 only
    assert activities("u12345") == 8  # the PCN holds district BS5: both BS5 venues
    assert activities("E06000023") == 13
    assert activities(places["bedminster"]["id"]) == 5
    by_ward = _report(commissioner, "capacity", group_by="area", area_kind="ward")
    assert {r["area"]: r["activities"] for r in by_ward["rows"]} == {"Easton": 6, "Bedminster": 5}
    by_pcn = _report(commissioner, "capacity", group_by="area", area_kind="pcn")
    assert [(r["area"], r["area_code"], r["activities"]) for r in by_pcn["rows"]] == [
        ("East PCN", "U12345", 8)
    ]


def test_a_venue_moved_by_the_api_moves_between_areas(client, commissioner, places):
    venue = places["at_bedminster"][0]["venues"][0]["id"]
    assert patch(client, f"/v1/venues/{venue}", {"postcode": "BS5 6AW"}).status_code == 200
    assert (
        _report(commissioner, "capacity", area=places["easton"]["id"])["rows"][0]["activities"]
        == 11
    )
    # An archived venue is no longer a place its activities meet.
    assert client.post(f"/v1/venues/{venue}/archive").status_code == 200
    assert (
        _report(commissioner, "capacity", area=places["easton"]["id"])["rows"][0]["activities"] == 6
    )


def test_searches_count_where_they_were_centred(commissioner, searcher, places, session):
    for postcode in ["BS5 6AW"] * 5 + ["BS5 0HE"] * 5 + ["BS3 4LZ"] * 5:
        found = searcher.get(
            "/v1/referral-options", params={"postcode": postcode, "need": "social-isolation"}
        )
        assert found.status_code == 200
    logged = session.exec(select(SearchLog.sector)).all()
    assert sorted(set(logged)) == ["BS3 4", "BS5 0", "BS5 6"]  # a sector, never the postcode

    def searches(area):
        return _report(commissioner, "unmet-demand", area=area)["rows"][0]["searches"]

    assert searches(places["easton"]["id"]) == 5
    assert searches("U12345") == 10
    assert searches("E06000023") == 15
    by_ward = _report(commissioner, "unmet-demand", group_by="area", area_kind="ward")
    assert {r["area"]: r["searches"] for r in by_ward["rows"]} == {"Easton": 5, "Bedminster": 5}


def test_organisations_count_in_their_venues_areas_and_those_they_declare(commissioner, places):
    by_ward = _report(commissioner, "assurance", group_by="area", area_kind="ward")
    rows = {r["area"]: r["organisations"] for r in by_ward["rows"]}
    # Easton: the organisation with venues there, and the phone service that declares it.
    assert rows == {"Easton": "<5", "Bedminster": "<5"}
    assert (
        _report(commissioner, "assurance", area=places["easton"]["id"])["rows"][0]["organisations"]
        == "<5"
    )
    city = _report(commissioner, "assurance", area="E06000023")["rows"][0]
    assert city["organisations"] == "<5"


# --- the area profile ----------------------------------------------------------------------


def test_the_area_profile_puts_demand_beside_supply(commissioner, searcher, places, session):
    now = utcnow()
    for n in range(12):
        session.add(SearchLog(searched_at=now - timedelta(days=2), outcode="BS5", sector="BS5 6",
                              need_ids=[], unmatched=["bus pass"] if n < 5 else [],
                              result_count=1))  # fmt: skip
    session.commit()
    for _ in range(6):
        searcher.get(
            "/v1/referral-options",
            params={"postcode": "BS5 6AW", "need": "physical-inactivity"},
        )
    profile = _report(commissioner, "area-profile", area=places["easton"]["id"])
    assert profile["area"]["name"] == "Easton"
    need = {row["need"]: row for row in profile["by_need"]}["physical-inactivity"]
    assert need["searches"] == 6
    assert need["activities"] == 6  # walking helps with physical inactivity
    assert need["open_activities"] == 6
    assert need["searches_per_open_activity"] == 1.0
    assert profile["supply"]["activities"] == 6
    assert profile["unmatched_phrases"] == [{"phrase": "bus pass", "searches": 5}]
    by_category = {r["category"]: r for r in profile["supply_by_category"]}
    assert by_category["walking-and-physical-activity"]["activities"] == 6
    assert profile["referrals"]["sent"] == 0
    assert "Searches count by where they were centred" in " ".join(profile["notes"])

    table = commissioner.get(
        "/v1/reports/area-profile", params={"area": places["easton"]["id"], "format": "csv"}
    )
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert {r["need"]: r["searches"] for r in rows}["physical-inactivity"] == "6"

    chart = commissioner.get(
        "/v1/reports/area-profile",
        params={"area": places["easton"]["id"]},
        headers={"Accept": "image/svg+xml"},
    )
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/svg+xml"
    assert chart.text.lstrip().startswith("<?xml") and "<svg" in chart.text
    assert "physical-inactivity" in chart.text  # the needs label the bars

    # The profile's daily counts agree with the search log the demand report reads.
    logged = _report(commissioner, "unmet-demand", area=places["easton"]["id"], group_by="need")
    assert {r["need"]: r["searches"] for r in logged["rows"]} == {
        r["need"]: r["searches"] for r in profile["by_need"] if r["searches"] != 0
    }

    missing = commissioner.get("/v1/reports/area-profile")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "query.area"


# --- commissioners limited to areas -------------------------------------------------------


def test_a_limited_commissioner_sees_only_their_areas(client, session, places):
    user = make_user(session, role=GlobalRole.commissioner)
    response = patch(client, f"/v1/users/{user.id}", {"area_ids": [places["easton"]["id"]]})
    assert response.status_code == 200, response.text
    assert response.json()["area_ids"] == [places["easton"]["id"]]
    limited = client_for(user)

    assert _report(limited, "capacity")["rows"][0]["activities"] == 6  # their area by default
    assert _report(limited, "capacity", area=places["easton"]["id"])["rows"][0]["activities"] == 6
    for name in REPORTS:
        refused = limited.get(f"/v1/reports/{name}", params={"area": places["bedminster"]["id"]})
        assert refused.status_code == 403, name
    by_ward = _report(limited, "capacity", group_by="area", area_kind="ward")
    assert [r["area"] for r in by_ward["rows"]] == ["Easton"]

    key = make_api_key(session, role=GlobalRole.commissioner)
    created = client.post(
        "/v1/api-keys",
        json={"name": "PCN dashboard", "role": "commissioner", "area_ids": [places["pcn"]["id"]]},
    )
    assert created.status_code == 201, created.text
    pcn_key = key_client(created.json()["key"])
    assert _report(pcn_key, "capacity")["rows"][0]["activities"] == 8
    assert pcn_key.get("/v1/reports/capacity", params={"area": "E06000023"}).status_code == 403
    unlimited = key_client(key)
    assert _report(unlimited, "capacity", area="E06000023")["rows"][0]["activities"] == 13
    bad = client.post(
        "/v1/api-keys",
        json={"name": "x", "role": "commissioner", "area_ids": [str(uuid.uuid4())]},
    )
    assert bad.status_code == 422


# --- starting areas ---------------------------------------------------------------------


def test_local_authorities_come_from_the_outcode_table_and_names_are_matched(client, session):
    result = CliRunner().invoke(cli, ["seed-areas", "--name", "City of Bristol"])
    assert result.exit_code == 0, result.output
    assert "1 local authorities added" in result.output
    bristol = session.exec(select(Area).where(Area.name == "City of Bristol")).one()
    places = client.get(f"/v1/areas/{bristol.id}").json()["places"]
    assert {"BS1", "BS5", "BS13"} <= set(places) and "BS15" not in places  # Kingswood: S Glos
    again = CliRunner().invoke(cli, ["seed-areas", "--name", "City of Bristol"])
    assert "0 local authorities added; 1 already there" in again.output

    typed = create_organisation(client, areas_served=["Bristol", "BS5", "Narnia"])
    matched = CliRunner().invoke(cli, ["match-served-areas"])
    assert matched.exit_code == 0, matched.output
    assert f"matched  {typed['name']}: City of Bristol" in matched.output
    assert f"no area  {typed['name']}: Narnia" in matched.output
    served = client.get(f"/v1/organisations/{typed['id']}").json()["served_areas"]
    assert [a["name"] for a in served] == ["City of Bristol"]


def test_a_postcode_file_brings_its_official_areas(client, commissioner, tmp_path):
    """ONSPD's local authority and ward columns become areas by GSS code, each holding the
    sectors most of whose postcodes carry it; a re-import redraws them by code."""
    organisation = create_organisation(client, status="published")
    venue = create_venue(client, postcode="BS5 6AW")
    create_activity(client, organisation["id"], venue_ids=[venue["id"]])
    onspd = tmp_path / "onspd.csv"
    onspd.write_text(
        "pcds,lat,long,doterm,oslaua,osward\n"
        "BS5 6AW,51.4632,-2.5618,,E06000023,E05010891\n"
        "BS5 6AA,51.4635,-2.5620,,E06000023,E05010891\n"
        "BS5 6ZZ,51.4630,-2.5610,,E06000023,E05010999\n"  # the sector's minority
        "BS5 0HE,51.4610,-2.5700,,E06000023,E05010892\n"
        "BA1 1LT,51.3810,-2.3590,,E06000022,E05001950\n"
    )
    result = CliRunner().invoke(cli, ["import-postcodes", str(onspd)])
    assert result.exit_code == 0, result.output
    assert "official areas: 5 created, 0 redrawn" in result.output
    ward = client.get("/v1/areas", params={"q": "E05010891"}).json()["contents"][0]
    assert (ward["kind"], ward["name"], ward["places"]) == ("ward", "E05010891", ["BS5 6"])
    bristol = client.get("/v1/areas", params={"q": "E06000023"}).json()["contents"][0]
    assert (bristol["kind"], bristol["places"]) == ("local_authority", ["BS5 0", "BS5 6"])
    capacity = _report(commissioner, "capacity", area="E05010891")
    assert capacity["rows"][0]["activities"] == "<5"  # the one API-made activity
    assert _report(commissioner, "capacity", area="E05010892")["rows"][0]["activities"] == 0

    renamed = patch(client, f"/v1/areas/{ward['id']}", {"name": "Easton"})
    assert renamed.status_code == 200
    again = CliRunner().invoke(cli, ["import-postcodes", str(onspd)])
    assert "official areas: 0 created, 5 redrawn" in again.output
    assert client.get(f"/v1/areas/{ward['id']}").json()["name"] == "Easton"  # kept


@pytest.mark.skipif(get_settings().is_sqlite, reason="PostgreSQL's planner")
def test_a_report_on_one_area_costs_index_reads_as_cheap_for_itself_only(session, places):
    from datetime import date

    from sqlalchemy import text

    from app.reports import queries
    from app.reports.common import Period

    def cost() -> str:
        return session.execute(text("SHOW random_page_cost")).scalar_one()

    national = queries.Filters(period=Period(date.today(), date.today()))
    before = cost()
    queries.plan_for(session, national)
    assert cost() == before
    one_area = queries.Filters(
        period=national.period, area_ids=frozenset({uuid.UUID(places["easton"]["id"])})
    )
    queries.plan_for(session, one_area)
    assert cost() == queries.LOCAL_RANDOM_PAGE_COST != before
    session.rollback()  # the setting ends with the transaction
    assert cost() == before
