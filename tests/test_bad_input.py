"""Every kind of bad input, sent to every write endpoint, gets a 4xx problem+json and
leaves stored data exactly as it was. No input may produce a 500."""

import uuid

import pytest

from tests.factories import (
    activity_body,
    create_activity,
    create_organisation,
    create_venue,
    organisation_body,
    venue_body,
)

PROBLEM = "application/problem+json"
UNKNOWN_ID = str(uuid.UUID(int=0x1234))


@pytest.fixture
def stored(client):
    organisation = create_organisation(client)
    venue = create_venue(client)
    activity = create_activity(client, organisation["id"], venue_ids=[venue["id"]])
    return {"organisation": organisation, "venue": venue, "activity": activity}


def snapshot(client):
    params = {"include_archived": True, "per_page": 100}
    return {
        path: client.get(path, params=params).json()
        for path in ("/v1/organisations", "/v1/venues", "/v1/activities")
    }


# (method, path, valid body) for every write endpoint; "{id}" is the stored object's id.
def write_endpoints(stored):
    org_id = stored["organisation"]["id"]
    return {
        "create_organisation": ("POST", "/v1/organisations", organisation_body()),
        "update_organisation": ("PATCH", "/v1/organisations/{id}", {"name": "Renamed"}),
        "archive_organisation": ("POST", "/v1/organisations/{id}/archive", None),
        "create_venue": ("POST", "/v1/venues", venue_body()),
        "update_venue": ("PATCH", "/v1/venues/{id}", {"name": "Renamed"}),
        "archive_venue": ("POST", "/v1/venues/{id}/archive", None),
        "create_activity": ("POST", "/v1/activities", activity_body(org_id)),
        "update_activity": ("PATCH", "/v1/activities/{id}", {"name": "Renamed"}),
        "archive_activity": ("POST", "/v1/activities/{id}/archive", None),
    }


def _kind(path):
    return path.split("/")[2]


IDS = {"organisations": "organisation", "venues": "venue", "activities": "activity"}


def body_variants(body):
    """Ways to spoil a valid body, each with the field the error must name."""
    some_field = "name"
    return {
        "malformed_json": ('{"name": "unterminated', "body"),
        "not_an_object": ([1, 2, 3], "body"),
        "wrong_type": ({**body, some_field: 12345}, f"body.{some_field}"),
        "over_long_string": ({**body, some_field: "x" * 256}, f"body.{some_field}"),
        "empty_string": ({**body, some_field: ""}, f"body.{some_field}"),
        "unknown_field": ({**body, "is_verified": True}, "body.is_verified"),
        "invalid_enum": (
            {**body, "status": "deleted"},
            "body.status",
        ),
    }


ENDPOINT_NAMES = list(write_endpoints({k: {"id": UNKNOWN_ID} for k in IDS.values()}))
BODY_KINDS = [
    "malformed_json",
    "not_an_object",
    "wrong_type",
    "over_long_string",
    "empty_string",
    "unknown_field",
    "invalid_enum",
]


def send(client, method, path, body):
    """Send as a careful client would: PATCH carries the ETag it read as If-Match."""
    headers = {}
    if method == "PATCH" and (etag := client.get(path).headers.get("etag")):
        headers["If-Match"] = etag
    if isinstance(body, str):
        headers["content-type"] = "application/json"
        return client.request(method, path, content=body, headers=headers)
    return client.request(method, path, json=body, headers=headers)


def assert_problem(response, status_range=(400, 499)):
    assert status_range[0] <= response.status_code <= status_range[1], response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["title"] and problem["type"].startswith("https://")
    return problem


@pytest.mark.parametrize("endpoint", [n for n in ENDPOINT_NAMES if not n.startswith("archive")])
@pytest.mark.parametrize("kind", BODY_KINDS)
def test_bad_bodies_are_refused_and_change_nothing(client, stored, endpoint, kind):
    method, path, body = write_endpoints(stored)[endpoint]
    variants = body_variants(body)
    if kind == "invalid_enum" and _kind(path) == "venues":
        variants[kind] = ({**body, "accessibility": ["teleporter"]}, "body.accessibility.0")
    spoiled, field = variants[kind]
    target = path.format(id=stored[IDS[_kind(path)]]["id"])
    before = snapshot(client)
    response = send(client, method, target, spoiled)
    problem = assert_problem(response)
    assert response.status_code == 422
    assert field in {error["field"] for error in problem["errors"]}, problem
    assert snapshot(client) == before


@pytest.mark.parametrize("endpoint", [n for n in ENDPOINT_NAMES if not n.startswith("create")])
@pytest.mark.parametrize(
    ("object_id", "status"), [("not-a-uuid", 422), ("12345", 422), (UNKNOWN_ID, 404)]
)
def test_bad_and_unknown_ids_are_refused(client, stored, endpoint, object_id, status):
    method, path, body = write_endpoints(stored)[endpoint]
    before = snapshot(client)
    problem = assert_problem(send(client, method, path.format(id=object_id), body))
    assert problem["status"] == status
    if status == 422:
        assert problem["errors"][0]["field"].startswith("path.")
    assert snapshot(client) == before


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize(
    ("coordinates", "field"),
    [
        ({"latitude": 400, "longitude": 0}, "body.latitude"),
        ({"latitude": 51.4, "longitude": -200}, "body.longitude"),
        ({"latitude": "north", "longitude": 0}, "body.latitude"),
    ],
)
def test_impossible_coordinates_are_refused(client, stored, method, coordinates, field):
    venue_id = stored["venue"]["id"]
    path = "/v1/venues" if method == "POST" else f"/v1/venues/{venue_id}"
    body = {**venue_body(), **coordinates} if method == "POST" else coordinates
    before = snapshot(client)
    problem = assert_problem(send(client, method, path, body))
    assert field in {error["field"] for error in problem["errors"]}
    assert snapshot(client) == before


@pytest.mark.parametrize(
    "path",
    ["/v1/organisations", "/v1/venues", "/v1/activities", "/v1/taxonomies", "/v1/taxonomy-terms"],
)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "query.page"),
        ({"page": -1}, "query.page"),
        ({"page": "two"}, "query.page"),
        ({"page": 10**9}, "query.page"),
        ({"per_page": 0}, "query.per_page"),
        ({"per_page": 101}, "query.per_page"),
    ],
)
def test_out_of_range_pages_are_refused(client, path, params, field):
    problem = assert_problem(client.get(path, params=params))
    assert problem["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/organisations", {"status": "deleted"}, "query.status"),
        ("/v1/organisations", {"sort": "colour"}, "query.sort"),
        ("/v1/organisations", {"modified_after": "last tuesday"}, "query.modified_after"),
        ("/v1/activities", {"term": "not-a-uuid"}, "query.term.0"),
        ("/v1/activities", {"organisation": "x"}, "query.organisation"),
        ("/v1/venues", {"outcode": "TOOLONG"}, "query.outcode"),
        ("/v1/taxonomy-terms", {"q": "x" * 101}, "query.q"),
    ],
)
def test_bad_filters_are_refused(client, path, params, field):
    problem = assert_problem(client.get(path, params=params))
    assert problem["errors"][0]["field"] == field


def test_unknown_route_and_wrong_method_are_problems(client):
    assert assert_problem(client.get("/v1/nowhere"))["status"] == 404
    response = client.delete("/v1/organisations")
    assert assert_problem(response)["status"] == 405
    assert "GET" in response.headers["allow"]


def test_unexpected_errors_are_problems_without_internals(client, monkeypatch):
    from app.organisations import service

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "list_organisations", broken)
    response = client.__class__(client.app, raise_server_exceptions=False).get("/v1/organisations")
    problem = assert_problem(response, (500, 500))
    assert "secret internals" not in response.text
    assert problem["detail"]
