"""The Open Referral UK feed (/openreferral): every endpoint checked against the UK
profile's JSON schemas on first, middle and last pages and for ids read from the lists;
only public data; the profile's filters; errors as problem+json."""

import math
from datetime import timedelta

import pytest

from app.core.types import utcnow
from app.openreferral import profile
from tests.oruk_world import build_directory

BASE = "/openreferral"
LISTS = ["services", "organizations", "service_at_locations", "taxonomies", "taxonomy_terms"]
# Page sizes that give each list of the test directory at least three pages.
PER_PAGE = {
    "services": 3,
    "organizations": 1,
    "service_at_locations": 3,
    "taxonomies": 1,
    "taxonomy_terms": 25,
}


@pytest.fixture
def directory(client, terms):
    return build_directory(client, terms)


def _valid_page(body: dict, item_schema: str) -> int:
    """Check a page against the profile; return how many documents were checked."""
    assert profile.problems("page", body) == []
    assert body["size"] == len(body["contents"])
    assert body["empty"] is (not body["contents"])
    for item in body["contents"]:
        assert profile.problems(item_schema, item) == [], item
    return 1 + len(body["contents"])


def _pages(anon, path: str, per_page: int) -> list[dict]:
    """First, middle and last page of ``path``, each checked for its place in the list."""
    first = anon.get(path, params={"per_page": per_page})
    assert first.status_code == 200, first.text
    total_pages = first.json()["total_pages"]
    assert total_pages == math.ceil(first.json()["total_items"] / per_page)
    wanted = sorted({1, max(1, (total_pages + 1) // 2), max(1, total_pages)})
    pages = []
    for number in wanted:
        body = anon.get(path, params={"per_page": per_page, "page": number}).json()
        assert body["page_number"] == number
        assert body["first_page"] is (number == 1)
        assert body["last_page"] is (number == total_pages)
        pages.append(body)
    return pages


def test_every_endpoint_validates_against_the_profile_schemas(anon, directory):
    checked = 0
    root = anon.get(f"{BASE}/")
    assert root.status_code == 200
    assert profile.problems("api_details", root.json()) == []
    assert root.json()["version"] == "HSDS-UK-3.0"
    assert anon.get(root.json()["openapi_url"].replace("http://testserver", "")).status_code == 200
    checked += 1
    for name in LISTS:
        for full in (False, True):
            params = "?full=true" if full else ""
            pages = _pages(anon, f"{BASE}/{name}{params}", per_page=PER_PAGE[name])
            assert len(pages) == 3, f"{name} should have at least three pages to check"
            for body in pages:
                checked += _valid_page(
                    body,
                    profile.ONE[name]
                    if full and name in ("services", "service_at_locations")
                    else profile.LIST_ITEM[name],
                )
            ids = [item["id"] for body in pages for item in body["contents"]][:10]
            for item_id in ids:
                one = anon.get(f"{BASE}/{name}/{item_id}")
                assert one.status_code == 200, one.text
                assert profile.problems(profile.ONE[name], one.json()) == []
                checked += 1
    organisation = directory["charity"]["id"]
    full = anon.get(f"{BASE}/organizations/{organisation}?full_service=true").json()
    assert profile.problems("organization", full) == []
    assert {s["id"] for s in full["services"]} >= {directory["choir"]["id"]}
    assert all("schedules" in s for s in full["services"])
    assert checked > 100


def test_a_service_shows_what_was_entered(anon, directory, terms):
    choir = directory["choir"]
    body = anon.get(f"{BASE}/services/{choir['id']}").json()
    assert body["name"] == "Community Choir"
    assert body["status"] == "active"
    assert body["url"] == "https://choir.example.org"
    assert body["minimum_age"] == 18
    assert "maximum_age" not in body  # unknown: left out, never null
    assert body["organization"]["organization_identifiers"] == [
        {
            "id": body["organization"]["organization_identifiers"][0]["id"],
            "organization_id": directory["charity"]["id"],
            "identifier_scheme": "GB-CHC",
            "identifier_type": "Charity number",
            "identifier": "1187654",
        }
    ]
    assert [a["name"] for a in body["service_areas"]] == ["Bristol", "BS5"]
    [sal] = body["service_at_locations"]
    assert sal["location_id"] == directory["hall"]["id"]
    [address] = sal["location"]["addresses"]
    assert (address["postal_code"], address["country"], address["state_province"]) == (
        "BS5 6AW",
        "GB",
        "Bristol",
    )
    assert sal["location"]["latitude"] is not None  # placed by its postcode on entry
    assert [a["details"] for a in sal["location"]["accessibility"]] == ["step_free_access"]
    [schedule] = body["schedules"]
    assert (schedule["byday"], schedule["freq"], schedule["service_at_location_id"]) == (
        "TU",
        "WEEKLY",
        sal["id"],
    )
    assert {a["taxonomy_term_id"] for a in body["attributes"]} == {
        terms["music-and-singing"],
        terms["social-isolation"],
    }
    assert all(a["taxonomy_term"]["taxonomy_id"] for a in body["attributes"])
    [cost] = body["cost_options"]
    assert (cost["option"], cost["amount"]) == ("£2.50 a session", 2.5)
    assert body["assured_date"] == choir["last_confirmed_at"][:10]
    # The service at location reads back by its id, with the same service inside.
    one = anon.get(f"{BASE}/service_at_locations/{sal['id']}").json()
    assert one["service"]["id"] == choir["id"]
    assert one["location"]["id"] == directory["hall"]["id"]
    # A term and its taxonomy read back by their ids.
    term = anon.get(f"{BASE}/taxonomy_terms/{terms['music-and-singing']}").json()
    assert term["term"] == "music-and-singing"
    taxonomy = anon.get(f"{BASE}/taxonomies/{term['taxonomy_id']}").json()
    assert terms["music-and-singing"] in {t["id"] for t in taxonomy["taxonomy_terms"]}


def test_only_what_the_public_may_see(anon, directory):
    listed = {
        s["id"] for s in anon.get(f"{BASE}/services", params={"per_page": 100}).json()["contents"]
    }
    assert listed == {a["id"] for a in directory["public"]}
    for hidden in directory["hidden"]:
        assert anon.get(f"{BASE}/services/{hidden['id']}").status_code == 404
    organisations = {o["id"] for o in anon.get(f"{BASE}/organizations").json()["contents"]}
    assert directory["draft"]["id"] not in organisations
    assert anon.get(f"{BASE}/organizations/{directory['draft']['id']}").status_code == 404
    locations = anon.get(f"{BASE}/service_at_locations", params={"per_page": 100}).json()
    assert directory["gone"]["id"] not in {s["location_id"] for s in locations["contents"]}
    moved = next(a for a in directory["public"] if a["name"] == "Moved Group")
    assert anon.get(f"{BASE}/services/{moved['id']}").json()["service_at_locations"] == []
    # Nothing the profile has no field for: no capacity, assurance, referral or contact data.
    text = anon.get(f"{BASE}/services", params={"full": "true", "per_page": 100}).text
    for private in ("capacity", "assurance_level", "responsiveness", "referral", "phone"):
        assert private not in text


def test_answers_are_open_to_any_origin(anon, directory):
    for path in (f"{BASE}/services", f"{BASE}/services/{directory['hidden'][0]['id']}"):
        response = anon.get(path, headers={"Origin": "https://elsewhere.example"})
        assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in anon.get("/v1/activities").headers


def _listed(anon, path="services", **params) -> set[str]:
    response = anon.get(f"{BASE}/{path}", params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    key = "service_id" if path == "service_at_locations" else "id"
    return {item[key] for item in response.json()["contents"]}


@pytest.mark.parametrize("path", ["services", "service_at_locations"])
def test_filters_combine_with_and(anon, directory, terms, path):
    choir, walk = directory["choir"]["id"], directory["walk"]["id"]
    charity = directory["charity"]["id"]
    assert _listed(anon, path, taxonomy_term_id=terms["music-and-singing"]) == {choir}
    needs = anon.get(f"{BASE}/taxonomy_terms/{terms['social-isolation']}").json()["taxonomy_id"]
    assert _listed(anon, path, taxonomy_id=needs) == {choir}
    charity_ones = {a["id"] for a in directory["public"] if a["organisation"]["id"] == charity}
    assert _listed(anon, path, organization_id=charity) == charity_ones
    assert _listed(anon, path, search="singing tuesdays") == {choir}
    assert _listed(anon, path, search="singing", organization_id=directory["plain"]["id"]) == set()
    assert walk in _listed(anon, path, postcode="LS1 4AP", proximity=2000)
    assert choir not in _listed(anon, path, postcode="LS1 4AP", proximity=2000)
    assert choir in _listed(anon, path, postcode="BS5 6AW")
    later = (utcnow() + timedelta(minutes=5)).isoformat()
    assert _listed(anon, path, modified_after=later) == set()
    earlier = (utcnow() - timedelta(days=1)).isoformat()
    assert choir in _listed(anon, path, modified_after=earlier)


def test_pages_are_stable_in_id_order(anon, directory):
    seen = []
    for number in (1, 2, 3, 4):
        body = anon.get(f"{BASE}/services", params={"per_page": 2, "page": number}).json()
        seen += [s["id"] for s in body["contents"]]
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == len(directory["public"])


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("services?taxonomy_term_id=nope", "query.taxonomy_term_id"),
        ("services?organization_id=1", "query.organization_id"),
        ("services?modified_after=yesterday", "query.modified_after"),
        ("services?proximity=500", "query.proximity"),
        ("services?postcode=NOTAPOSTCODE", "query.postcode"),
        ("service_at_locations?proximity=0&postcode=BS5", "query.proximity"),
        ("taxonomy_terms?taxonomy_id=x", "query.taxonomy_id"),
        ("services?per_page=5000", "query.per_page"),
    ],
)
def test_bad_filters_are_named(anon, path, field):
    response = anon.get(f"{BASE}/{path}")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize("name", LISTS)
def test_unknown_ids_are_404(anon, name):
    response = anon.get(f"{BASE}/{name}/7d0d7f5e-6c1f-4a43-9b0e-2f1f6a2b9c10")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert anon.get(f"{BASE}/{name}/not-a-uuid").status_code == 422


def test_a_page_is_two_statements_at_most(anon, directory):
    """A full page of services reads its page (with organisations and count) and its
    venues: not one query per service."""
    from sqlalchemy import event

    from app.core.db import get_engine

    statements = []

    def count(*_args):
        statements.append(1)

    anon.get(f"{BASE}/services?full=true&per_page=2")  # warm: vocabulary in memory
    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        body = anon.get(f"{BASE}/services", params={"full": "true", "per_page": 50}).json()
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)
    assert body["size"] == len(directory["public"])
    assert len(statements) <= 2


def test_a_remembered_total_is_forgotten_when_listings_change(anon, client, directory):
    """Totals are remembered per list for crawlers; a write that changes listings empties
    that memory at its commit."""
    before = anon.get(f"{BASE}/services").json()["total_items"]
    assert anon.get(f"{BASE}/services").json()["total_items"] == before  # remembered
    client.post(
        "/v1/activities", json={"organisation_id": directory["charity"]["id"], "name": "New"}
    )
    assert anon.get(f"{BASE}/services").json()["total_items"] == before + 1
    client.post(f"/v1/activities/{directory['choir']['id']}/archive")
    assert anon.get(f"{BASE}/services").json()["total_items"] == before
