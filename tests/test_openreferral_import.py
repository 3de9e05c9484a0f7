"""signpost import-oruk: the validator's mock payloads (Default and Warn import, Fail
records are refused with reasons), re-runs that update instead of duplicating, what left
the source archived, dry runs, external terms and their mapping, and a round trip (our
feed walked over HTTP, imported into an empty database, exported again)."""

import copy
import json
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func
from sqlmodel import select

from app.accounts.principal import SYSTEM
from app.activities.models import Activity, CostType
from app.audit.models import AuditEntry
from app.core.db import get_engine
from app.main import app
from app.models import metadata
from app.openreferral import importer
from app.openreferral.models import ExternalRecord, ExternalTerm
from app.organisations import service as organisations
from app.organisations.models import Organisation, OrganisationStatus
from app.venues.models import Venue
from app.vocabulary import snapshot as vocabulary_snapshot
from tests.oruk_world import build_directory

MOCKS = Path(__file__).parent / "data" / "oruk" / "mocks"
MOCK_SERVICE = uuid.UUID("ac148810-d857-441c-9679-408f346de14b")
MOCK_ORGANISATION = uuid.UUID("d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610")
WRITTEN = (Organisation, Activity, Venue, ExternalRecord, ExternalTerm, AuditEntry)


def _rows(session) -> dict[str, int]:
    session.expire_all()
    return {
        model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
        for model in WRITTEN
    }


def _service_file(folder: Path, services: list[dict], name: str = "services.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    page = {
        "total_items": len(services),
        "total_pages": 1,
        "page_number": 1,
        "size": len(services),
        "first_page": True,
        "last_page": True,
        "empty": not services,
        "contents": services,
    }
    (folder / name).write_text(json.dumps(page))
    return folder


def _mock_service(**changes) -> dict:
    record = json.loads((MOCKS / "Default" / "service_full.json").read_text())
    record["service_at_locations"][0]["location"]["addresses"][0]["postal_code"] = "BS5 6AW"
    return {**record, **changes}


@pytest.mark.parametrize("kind", ["Default", "Warn"])
def test_the_valid_mocks_import_as_drafts(session, anon, kind):
    outcome = importer.run(session, str(MOCKS / kind))

    assert outcome.refused == []
    assert outcome.created["service"] == 1
    assert outcome.created["organization"] == 1
    assert outcome.records >= 9
    activity = session.get(Activity, MOCK_SERVICE)  # the source's id, kept
    assert activity.name == "Community Counselling"
    assert (activity.minimum_age, activity.maximum_age) == (12, 100)
    assert activity.cost_type is CostType.fee
    assert activity.cost_amount == 35
    assert activity.cost_description == "Under 18s and Over 60s"
    assert activity.last_confirmed_at.date().isoformat() == "2005-01-01"
    organisation = session.get(Organisation, MOCK_ORGANISATION)
    assert organisation.status is OrganisationStatus.draft
    assert organisation.website == "http://example.com"
    # What we cannot hold is left out and said so: a US address, a 7-digit company number.
    assert any("no UK postcode" in w for w in outcome.warnings)
    assert any("company_number '1234567'" in w for w in outcome.warnings)
    # Unverified imports are invisible to link workers until published.
    assert anon.get("/openreferral/services").json()["total_items"] == 0
    assert anon.get(f"/v1/activities/{MOCK_SERVICE}").status_code == 404
    # The mocks' terms are not ours: kept aside for a steward to map.
    kept = session.exec(select(ExternalTerm)).all()
    assert {t.external_id for t in kept} >= {"3f7b145d-84af-42d7-8fae-eaca714b02b2"}
    assert all(t.term_id is None for t in kept)


def test_the_failing_mocks_are_refused_with_their_reasons(session):
    outcome = importer.run(session, str(MOCKS / "Fail"))

    refused = {(r.kind, r.external_id): r.reasons for r in outcome.refused}
    assert len(outcome.refused) >= 4
    reasons = [reason for r in outcome.refused for reason in r.reasons]
    assert "(record): 'name' is a required property" in reasons
    assert "email: 'email-example_com' is not a 'email'" in reasons
    assert "email: False is not of type 'string'" in reasons
    unnamed = uuid.UUID("e85f5bb0-62f0-42cc-a08a-0c5c16273090")
    assert ("service", str(unnamed)) in refused
    assert session.get(Activity, unnamed) is None
    assert importer.describe(outcome, False).count("    - ") == len(reasons)


def test_a_refused_record_leaves_nothing_behind(session, tmp_path):
    """The organisation is written before the service fails our own rules (an age of
    200): the record's savepoint takes both back."""
    before = _rows(session)
    bad = _mock_service(minimum_age=200)
    outcome = importer.run(session, str(_service_file(tmp_path, [bad])))

    [refusal] = outcome.refused
    assert refusal.external_id == str(MOCK_SERVICE)
    assert any(reason.startswith("minimum_age") for reason in refusal.reasons)
    assert _rows(session) == before


def test_a_rerun_updates_and_archives_what_left_the_source(session, tmp_path, terms):
    first = _mock_service()
    second = _mock_service(id=str(uuid.uuid4()), name="Peer Support Evening")
    folder = _service_file(tmp_path / "feed", [first, second])
    created = importer.run(session, str(folder))
    assert created.created["service"] == 2
    assert created.created["location"] == 1  # one venue, shared by both
    venue = session.exec(select(Venue)).one()
    assert venue.postcode == "BS5 6AW" and venue.latitude is not None  # placed on entry

    again = importer.run(session, str(folder))
    assert again.unchanged["service"] == 2
    assert again.created == {} and again.updated == {}
    audit_before = _rows(session)["audit_entry"]

    renamed = {**first, "name": "Community Counselling (evenings)"}
    _service_file(folder, [renamed])  # the second service has left the source
    changed = importer.run(session, str(folder))

    assert changed.updated["service"] == 1
    assert changed.archived["service"] == 1
    session.expire_all()
    assert session.get(Activity, MOCK_SERVICE).name == "Community Counselling (evenings)"
    assert session.get(Activity, uuid.UUID(second["id"])).archived_at is not None
    assert session.exec(select(func.count()).select_from(Activity)).one() == 2  # no copies
    assert _rows(session)["audit_entry"] > audit_before  # the update and archive, audited


def test_a_dry_run_reports_but_writes_nothing(session, tmp_path):
    before = _rows(session)
    outcome = importer.run(session, str(_service_file(tmp_path, [_mock_service()])), dry_run=True)
    assert outcome.created["service"] == 1
    assert "created (would be): 1 external_term, 1 location, 1 organization, 1 service" in (
        importer.describe(outcome, True)
    )
    assert _rows(session) == before


def test_a_mapped_external_term_tags_later_imports(session, client, tmp_path, terms):
    folder = _service_file(tmp_path, [_mock_service()])
    importer.run(session, str(folder))
    [kept] = client.get("/v1/external-terms", params={"unmapped": True}).json()["contents"]
    assert kept["name"] == "name" and kept["term"] is None
    mapped = client.put(
        f"/v1/external-terms/{kept['id']}/mapping", json={"term_id": terms["befriending"]}
    )
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["term"]["code"] == "befriending"
    bad = client.put(
        f"/v1/external-terms/{kept['id']}/mapping", json={"term_id": str(uuid.uuid4())}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.term_id"

    importer.run(session, str(folder))
    activity = client.get(f"/v1/activities/{MOCK_SERVICE}").json()
    assert [t["code"] for t in activity["terms"]] == ["befriending"]
    assert client.get("/v1/external-terms", params={"unmapped": True}).json()["contents"] == []


def test_an_unreadable_source_is_an_error(session, tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(importer.SourceError, match=r"broken\.json"):
        importer.run(session, str(tmp_path))
    with pytest.raises(importer.SourceError, match="no such file"):
        importer.run(session, str(tmp_path / "missing"))


def _wipe() -> None:
    vocabulary_snapshot.clear()
    with get_engine().begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))


def _canonical(services: list[dict]) -> list[dict]:
    """Services without the ids an import gives anew (schedule and service-at-location
    ids, which the model does not take from a source, and the ids of our terms, which a
    fresh database seeds anew): terms compare by taxonomy and code."""
    shown = []
    for service in sorted(copy.deepcopy(services), key=lambda s: s["id"]):
        for schedule in service["schedules"]:
            schedule.pop("id"), schedule.pop("service_at_location_id", None)
        for link in service["service_at_locations"]:
            link.pop("id")
        service["attributes"] = sorted(
            (a["taxonomy_term"]["taxonomy"], a["taxonomy_term"]["term"])
            for a in service["attributes"]
        )
        shown.append(service)
    return shown


def test_a_round_trip_gives_the_same_services(session, client, terms, tmp_path):
    from fastapi.testclient import TestClient

    from app.vocabulary.seed import seed_vocabulary

    build_directory(client, terms)
    feed = TestClient(app)
    exported = [r for _, r in importer.read("http://testserver/openreferral", client=feed)]
    assert len(exported) == 8  # walked page by page, fully nested
    _service_file(tmp_path, exported)

    _wipe()  # an empty database, with the starter vocabulary
    seed_vocabulary(session)
    session.commit()
    outcome = importer.run(session, str(tmp_path))
    assert outcome.refused == [] and outcome.created["service"] == 8
    for organisation in session.exec(select(Organisation)).all():  # a steward publishes
        organisations.update_organisation(session, SYSTEM, organisation, {"status": "published"})
    session.commit()

    again = [r for _, r in importer.read("http://testserver/openreferral", client=feed)]
    assert _canonical(again) == _canonical(exported)


def _mock_feed(request: httpx.Request) -> httpx.Response:
    """Another directory's feed, as the validator's Default samples describe it: its list
    holds services without nesting, so each is read by id."""
    default = MOCKS / "Default"
    if request.url.path == "/api/services":
        return httpx.Response(200, json=json.loads((default / "service_list.json").read_text()))
    if request.url.path == f"/api/services/{MOCK_SERVICE}":
        return httpx.Response(200, json=json.loads((default / "service_full.json").read_text()))
    return httpx.Response(404, json={"detail": "not found"})


def test_a_feed_that_lists_without_nesting_is_read_service_by_service(session):
    requests = []

    def feed(request: httpx.Request) -> httpx.Response:
        requests.append(request.url.path)
        return _mock_feed(request)

    with httpx.Client(transport=httpx.MockTransport(feed)) as client:
        outcome = importer.run(session, "https://elsewhere.example/api", client=client)
    assert requests == ["/api/services", f"/api/services/{MOCK_SERVICE}"]
    assert outcome.created["service"] == 1 and outcome.refused == []
    assert session.get(Activity, MOCK_SERVICE).name == "Community Counselling"
    assert outcome.pages == 1


def test_a_source_that_is_not_a_feed_imports_nothing(session):
    with (
        httpx.Client(transport=httpx.MockTransport(_mock_feed)) as client,
        pytest.raises(importer.SourceError, match="404"),
    ):
        importer.run(session, "https://elsewhere.example/nothing", client=client)
    assert _rows(session)["activity"] == 0
