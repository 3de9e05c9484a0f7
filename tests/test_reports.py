"""Commissioners' reports over a small known world: exact numbers, suppression, CSV and
who may read them."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from app.accounts.models import GlobalRole
from app.core.types import utcnow
from app.referrals.models import Referral
from app.search.models import SearchLog
from app.support.models import SupportNeed
from tests.factories import (
    assure,
    client_for,
    create_activity,
    create_organisation,
    create_venue,
    key_client,
    make_api_key,
    make_user,
    patch,
)
from tests.referral_world import build_world


@pytest.fixture
def world(session, client):
    w = build_world(session, client)  # organisation A with "Easton Walking Group"
    areas = {
        name: _created(client.post("/v1/areas", json=body))
        for name, body in {
            "Bristol": {"kind": "local_authority", "name": "Bristol", "code": "E06000023",
                        "places": ["BS1", "BS5", "BS7"]},
            "Bath": {"kind": "local_authority", "name": "Bath", "code": "E06000022",
                     "places": ["BA1", "BA2"]},
            "Easton": {"kind": "ward", "name": "Easton", "places": ["BS5 6"]},
        }.items()
    }  # fmt: skip
    easton = create_venue(client)  # BS5 6AW: in Bristol and in Easton ward
    patch(client, f"/v1/activities/{w.activity['id']}",
          {"funding_source": "commissioned", "venue_ids": [easton["id"]]})  # fmt: skip
    b = create_organisation(client, name="Bath Befrienders", status="published",
                            served_area_ids=[areas["Bath"]["id"]])  # fmt: skip
    bath_hall = create_venue(client, postcode="BA1 1LT", city="Bath")
    b_activity = create_activity(
        client,
        b["id"],
        name="Phone Friends",
        access_modes=["referral"],
        funding_source="unfunded",
        venue_ids=[bath_hall["id"]],
    )
    commissioner = client_for(make_user(session, role=GlobalRole.commissioner))

    # A receives 7 referrals: 5 accepted, 2 declined; answers came 1..7 hours after sending.
    a_referrals = [w.refer() for _ in range(7)]
    for referral in a_referrals[:5]:
        w.move(referral["id"], "accepted")
    for referral in a_referrals[5:]:
        w.move(referral["id"], "declined", reason="not_eligible")
    for hours, referral in enumerate(a_referrals, start=1):
        row = session.get(Referral, uuid.UUID(referral["id"]))
        row.created_at = row.first_response_at - timedelta(hours=hours)
    session.commit()
    # B receives 2: one waiting, one withdrawn.
    b_referrals = [w.refer(activity_id=b_activity["id"]) for _ in range(2)]
    w.move(b_referrals[1]["id"], "withdrawn", w.link_worker)
    return {
        "w": w,
        "b": b,
        "b_activity": b_activity,
        "commissioner": commissioner,
        "areas": areas,
    }


def _created(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def _report(client, name, **params):
    response = client.get(f"/v1/reports/{name}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_referral_funnel_with_suppression(world):
    report = _report(world["commissioner"], "referrals")
    [row] = report["rows"]
    assert row["referrals"] == 9
    assert row["accepted"] == 5
    assert row["ever_accepted"] == 5
    assert row["declined"] == "<5"
    assert row["declined_not_eligible"] == "<5"
    assert row["sent"] == "<5"
    assert row["withdrawn"] == "<5"
    assert row["completed"] == 0
    assert (row["median_hours_to_first_response"], row["p90_hours_to_first_response"]) == (
        4.0,
        7.0,
    )
    assert report["totals"]["referrals"] == 9
    assert report["totals"]["declined"] == "<5"
    assert report["period"]["to"] == utcnow().date().isoformat()
    assert report["generated_at"]


def test_referral_load_by_organisation_and_funding(world):
    report = _report(world["commissioner"], "referrals", group_by=["organisation", "funding"])
    rows = {(r["organisation"], r["funding"]): r for r in report["rows"]}
    a_name = world["w"].organisation["name"]
    assert set(rows) == {(a_name, "commissioned"), ("Bath Befrienders", "unfunded")}
    assert rows[(a_name, "commissioned")]["referrals"] == 7
    assert rows[("Bath Befrienders", "unfunded")]["referrals"] == "<5"
    # Fewer than 5 answers: no percentile that could describe one person's referral.
    assert rows[("Bath Befrienders", "unfunded")]["median_hours_to_first_response"] is None
    assert report["totals"]["referrals"] == "suppressed"


def test_filters_by_area_and_need(world):
    commissioner = world["commissioner"]
    bristol = _report(commissioner, "referrals", area="e06000023")  # an official code
    assert bristol["rows"][0]["referrals"] == 7
    assert bristol["filters"] == {"area": "e06000023"}
    by_id = _report(commissioner, "referrals", area=world["areas"]["Bath"]["id"])
    assert by_id["rows"][0]["referrals"] == "<5"
    by_area = _report(commissioner, "referrals", group_by="area")
    assert {r["area"]: r["referrals"] for r in by_area["rows"]} == {"Bath": "<5", "Bristol": 7}
    wards = _report(commissioner, "referrals", group_by="area", area_kind="ward")
    assert {r["area"]: r["referrals"] for r in wards["rows"]} == {"Easton": 7}
    assert "counts once in each" in " ".join(by_area["notes"])
    none = _report(commissioner, "referrals", need="low-mood")
    assert none["rows"][0]["referrals"] == 0


def test_csv_is_streamed_with_a_header_row(world):
    for kwargs in ({"headers": {"Accept": "text/csv"}}, {"params": {"format": "csv"}}):
        response = world["commissioner"].get(
            "/v1/reports/referrals", **{**kwargs, "params": {**kwargs.get("params", {}),
                                                            "group_by": "organisation"}}
        )  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(response.text)))
        json_report = _report(world["commissioner"], "referrals", group_by="organisation")
        assert rows[0] == json_report["columns"]
        assert len(rows) == 1 + len(json_report["rows"])
        assert "<5" in rows[2]  # Bath's two referrals


def test_support_needs_report(world, session):
    w = world["w"]
    volunteers = w.needs["volunteers"]
    raised = []
    for urgency in ("high", "high", "high", "low", "critical", "medium"):
        response = w.provider.post(
            f"/v1/organisations/{w.organisation['id']}/support-needs",
            json={"category_id": volunteers, "urgency": urgency, "description": "Help"},
        )
        raised.append(response.json())
    for need in raised[:5]:
        w.steward.post(
            f"/v1/support-needs/{need['id']}/transitions", json={"status": "acknowledged"}
        )
    for hours, need in enumerate(raised[:5], start=1):
        row = session.get(SupportNeed, uuid.UUID(need["id"]))
        row.created_at = row.acknowledged_at - timedelta(hours=hours * 2)
    session.commit()
    report = _report(world["commissioner"], "support-needs", group_by="category")
    [row] = report["rows"]
    assert (row["category"], row["raised"], row["still_open"]) == ("volunteers", 6, 6)
    assert (row["urgency_high"], row["urgency_low"]) == ("<5", "<5")
    assert row["median_hours_to_acknowledge"] == 6.0
    assert row["median_hours_to_resolve"] is None


def test_unmet_demand_report(world, session):
    w = world["w"]
    now = utcnow()
    lonely, low_mood = w.needs["social-isolation"], w.needs["low-mood"]
    logs = (
        [("BS5", "BS5 6", [lonely], 0)] * 6 + [("BS5", "BS5 0", [lonely], 2)] * 2
        + [("BS7", None, [low_mood], 0)] * 5 + [("BA1", None, [lonely], 12)] * 3
    )  # fmt: skip
    for outcode, sector, needs, count in logs:
        session.add(SearchLog(searched_at=now - timedelta(days=1), outcode=outcode,
                              sector=sector, need_ids=needs, result_count=count))  # fmt: skip
    session.commit()
    report = _report(world["commissioner"], "unmet-demand", group_by=["need", "outcode"])
    rows = {(r["need"], r["outcode"]): r for r in report["rows"]}
    assert rows[("social-isolation", "BS5")] == {
        "need": "social-isolation", "outcode": "BS5",
        "searches": 8, "no_results": 6, "fewer_than_3": 8,
    }  # fmt: skip
    assert rows[("low-mood", "BS7")]["no_results"] == 5
    assert rows[("social-isolation", "BA1")]["searches"] == "<5"
    bristol = _report(world["commissioner"], "unmet-demand", area="E06000023")
    assert bristol["rows"][0]["searches"] == 13
    easton = _report(world["commissioner"], "unmet-demand", area=world["areas"]["Easton"]["id"])
    assert easton["rows"][0]["searches"] == 6  # centred in sector BS5 6 only
    lonely_only = _report(world["commissioner"], "unmet-demand", need="social-isolation")
    assert lonely_only["rows"][0]["searches"] == 11
    weekly = _report(world["commissioner"], "unmet-demand", group_by="period", interval="week")
    assert sum(r["searches"] for r in weekly["rows"] if r["searches"] != "<5") == 16


def test_capacity_report_now(world):
    w = world["w"]
    w.set_capacity(maximum=10, available=4, waiting_list_length=6)
    paused = create_activity(w.admin, w.organisation["id"], access_modes=["referral"])
    w.set_capacity(paused["id"], status="paused", pause_reason="holiday")
    report = _report(world["commissioner"], "capacity", group_by="organisation")
    rows = {r["organisation"]: r for r in report["rows"]}
    a = rows[w.organisation["name"]]
    assert (a["activities"], a["paused"], a["paused_holiday"]) == ("<5", "<5", "<5")
    assert (a["places_maximum"], a["places_available"], a["waiting_list_length"]) == (10, 4, 6)
    by_funding = _report(world["commissioner"], "capacity", group_by="funding")
    assert {r["funding"] for r in by_funding["rows"]} == {"commissioned", "unfunded", "unknown"}
    history = _report(world["commissioner"], "capacity-history", interval="day")
    [day] = history["rows"]
    assert day["referrals_received"] == 9
    assert day["places_taken"] == 5


def test_assurance_report(world, session):
    w = world["w"]
    assure(session, w.admin, w.organisation["id"])
    report = _report(world["commissioner"], "assurance", group_by="area")
    rows = {r["area"]: r for r in report["rows"]}
    assert rows["Bristol"]["assured"] == "<5"
    assert rows["Bath"]["missing_items"] == "<5"
    assert rows["Bath"]["share_assured"] is None  # small numbers: no share either


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("referrals", {"group_by": "postcode"}, "query.group_by"),
        ("referrals", {"from": "2026-05-01", "to": "2026-04-01"}, "query.to"),
        ("referrals", {"from": "2023-01-01", "to": "2026-01-01"}, "query.from"),
        ("referrals", {"need": "unicorns"}, "query.need"),
        ("referrals", {"format": "xlsx"}, "query.format"),
        ("unmet-demand", {"interval": "fortnight"}, "query.interval"),
        ("capacity", {"category": "volunteers"}, "query.category"),  # not an activity term
        ("assurance", {"group_by": "category"}, "query.group_by"),
        ("capacity", {"area": "Bristol"}, "query.area"),  # a name is not an id or code
        ("referrals", {"area": "BS5"}, "query.area"),
        ("capacity", {"group_by": "area", "area_kind": "county"}, "query.area_kind"),
    ],
)
def test_bad_parameters_are_422_naming_them(world, name, params, field):
    response = world["commissioner"].get(f"/v1/reports/{name}", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    "name", ["referrals", "capacity", "capacity-history", "unmet-demand", "assurance",
             "support-needs"],
)  # fmt: skip
def test_who_may_read_reports(world, session, anon, name):
    w = world["w"]
    for allowed in (world["commissioner"], w.steward, w.admin,
                    key_client(make_api_key(session, role=GlobalRole.commissioner))):  # fmt: skip
        assert allowed.get(f"/v1/reports/{name}").status_code == 200
    for refused in (w.link_worker, w.provider, w.other_org):
        assert refused.get(f"/v1/reports/{name}").status_code == 403
    assert anon.get(f"/v1/reports/{name}").status_code == 401


def test_reports_hold_no_personal_data(world, session):
    for name in ("referrals", "capacity", "unmet-demand", "support-needs"):
        text = world["commissioner"].get(f"/v1/reports/{name}", params={"format": "csv"}).text
        for secret in ("Sam", "07700", "LW-2291", "quieter"):
            assert secret not in text
    assert session.execute(select(Referral)).first() is not None
