"""Activities and organisations as spreadsheets: GET /v1/activities and /v1/organisations
answer text/csv (every match, through the one safe CSV writer), and `signpost import-csv`
takes the activity columns back with the importer's dry-run, upsert and error rules."""

import csv
import io

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from app.activities import spreadsheet
from app.activities.models import Activity
from app.cli import cli
from app.organisations.models import Organisation, OrganisationStatus
from tests.oruk_world import build_directory


def _table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def directory(client, terms):
    return build_directory(client, terms)


def test_activities_answer_csv_for_every_match(anon, client, directory):
    response = anon.get("/v1/activities", params={"format": "csv", "per_page": 2})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="activities.csv"' in response.headers["content-disposition"]
    rows = _table(response.text)
    assert list(rows[0]) == spreadsheet.COLUMNS
    # Every activity the caller may see, not one page; no draft or archived one.
    assert {r["activity_id"] for r in rows} == {a["id"] for a in directory["public"]}
    choir = next(r for r in rows if r["name"] == "Community Choir")
    assert choir["schedules"] == "WEEKLY TU 10:00-12:00"
    assert choir["venue_postcodes"] == "BS5 6AW"
    assert set(choir["terms"].split("; ")) == {
        "activity-category:music-and-singing",
        "need:social-isolation",
    }
    assert (choir["cost_type"], choir["cost_amount"]) == ("fee", "2.50")
    by_accept = anon.get("/v1/activities", headers={"Accept": "text/csv"})
    assert _table(by_accept.text) == rows
    # Stewards and admins see the drafts too.
    every = _table(client.get("/v1/activities?format=csv").text)
    assert {a["id"] for a in directory["hidden"][:1]} <= {r["activity_id"] for r in every}


def test_organisations_answer_csv(anon, directory):
    rows = _table(anon.get("/v1/organisations", params={"format": "csv"}).text)
    assert directory["draft"]["id"] not in {r["id"] for r in rows}
    charity = next(r for r in rows if r["id"] == directory["charity"]["id"])
    assert (charity["charity_number"], charity["areas_served"]) == ("1187654", "Bristol; BS5")


def test_csv_cells_cannot_run_as_formulas(client, directory):
    organisation = directory["charity"]["id"]
    created = client.post(
        "/v1/activities",
        json={"organisation_id": organisation, "name": '=HYPERLINK("http://x")'},
    )
    assert created.status_code == 201
    rows = _table(client.get("/v1/activities?format=csv").text)
    assert '\'=HYPERLINK("http://x")' in {r["name"] for r in rows}


def _write(path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=spreadsheet.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _count(session, model) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_spreadsheet_goes_back_in(client, session, directory, tmp_path):
    rows = _table(client.get("/v1/activities?format=csv").text)
    choir = next(r for r in rows if r["name"] == "Community Choir")
    choir["name"] = "Community Choir (daytime)"
    choir["schedules"] = "WEEKLY TU 10:00-12:00; MONTHLY 1TH 14:00-15:30"
    assert choir["runs_on_bank_holidays"] == "False"  # every activity field has a column
    choir["runs_on_bank_holidays"] = "true"
    new = {column: "" for column in spreadsheet.COLUMNS}
    new.update(
        name="Knit and Natter",
        organisation_name="Easton Knitters",
        venue_names="Easton Library",
        venue_addresses="Stapleton Road",
        venue_cities="Bristol",
        venue_postcodes="BS5 0QW",
        schedules="WEEKLY MO 09:30-11:00",
        terms="activity-category:arts-and-crafts",
        cost_type="donation",
        delivery_modes="in_person",
    )
    bad = {**new, "name": "Broken Row", "schedules": "Tuesdays", "terms": "need:nonsense",
           "runs_on_bank_holidays": "sometimes"}  # fmt: skip
    sheet = tmp_path / "directory.csv"
    _write(sheet, [choir, new, bad])
    activities_before = _count(session, Activity)

    dry = CliRunner().invoke(cli, ["import-csv", str(sheet), "--dry-run"])
    assert dry.exit_code == 1  # a row was refused
    assert _count(session, Activity) == activities_before

    result = CliRunner().invoke(cli, ["import-csv", str(sheet)])
    assert result.exit_code == 1, result.output
    assert "csv_row line 4:" in result.output
    assert "schedules: 'Tuesdays' does not read as FREQ BYDAY HH:MM-HH:MM" in result.output
    assert "terms: 'need:nonsense' is no term of ours" in result.output
    assert "runs_on_bank_holidays: 'sometimes' is neither yes nor no" in result.output
    assert "updated (were): 1 service" in result.output
    assert _count(session, Activity) == activities_before + 1

    updated = client.get(f"/v1/activities/{choir['activity_id']}").json()
    assert updated["name"] == "Community Choir (daytime)"
    assert [s["byday"] for s in updated["schedules"]] == ["1TH", "TU"]
    assert updated["runs_on_bank_holidays"] is True
    knit = session.exec(select(Activity).where(Activity.name == "Knit and Natter")).one()
    assert knit.cost_type == "donation"
    assert knit.runs_on_bank_holidays is False  # an empty cell: the default
    knitters = session.get(Organisation, knit.organisation_id)
    assert knitters.name == "Easton Knitters"
    assert knitters.status is OrganisationStatus.draft  # until someone publishes it
    assert session.exec(select(Activity).where(Activity.name == "Broken Row")).first() is None

    again = CliRunner().invoke(cli, ["import-csv", str(sheet)])
    assert "created" not in again.output  # rows without ids match by name now
    assert _count(session, Activity) == activities_before + 1


def test_an_unreadable_spreadsheet_is_an_error(tmp_path):
    sheet = tmp_path / "people.csv"
    sheet.write_text("email,phone\nx@example.org,0117\n")
    result = CliRunner().invoke(cli, ["import-csv", str(sheet)])
    assert result.exit_code == 2
    assert "no name, organisation_name column" in result.output
