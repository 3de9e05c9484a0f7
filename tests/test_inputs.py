"""Malformed input is a 422 naming the field, never a 500, on both databases: checked for
every request-body field and query parameter the app has, found by walking its models and
routes, so a new one is covered the day it is added."""

import json
import typing
import uuid
from datetime import date, datetime, time

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from app.core.schemas import RequestModel
from app.main import ROUTERS
from tests.factories import (
    activity_body,
    create_activity,
    create_organisation,
    create_venue,
    organisation_body,
)

PROBLEM = "application/problem+json"
ANY_VERSION = {"If-Match": "*"}

BAD = {
    datetime: [
        "0001-01-01T00:00:00+01:00",  # an offset pushes it before year 1
        "9999-12-31T23:59:59-01:00",  # …or after year 9999
        "1850-06-01T00:00:00Z",
        "2300-01-01T00:00:00Z",
        0.5,  # numbers are not dates, whatever pydantic's lax mode thinks
        0,
        "1e10",
        "0.5",
        "yesterday",
    ],
    date: ["0001-01-01", "9999-12-01", "1899-12-31", "2201-01-01", 0, "0", "2026-13-45"],
    time: ["10:00Z", "10:00+01:00", "10:00:00-05:00", 36000, "25:00", "10"],
}
BAD_TEXT = ["nul \x00 here", "bell \x07", "escape \x1b[31m", "lone \ud800 surrogate", "del \x7f"]


def _types_in(annotation) -> set[type]:
    """Every class named in ``annotation`` (through Optional, list, Annotated…)."""
    found = {annotation} if isinstance(annotation, type) else set()
    origin = typing.get_origin(annotation)
    if isinstance(origin, type):
        found.add(origin)
    for arg in typing.get_args(annotation):
        found |= _types_in(arg)
    return found


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


REQUEST_MODELS = sorted(set(_subclasses(RequestModel)), key=lambda m: m.__name__)
MODEL_FIELDS = [
    (model, name, info.annotation)
    for model in REQUEST_MODELS
    for name, info in model.model_fields.items()
]


def _temporal(annotation) -> type | None:
    types = _types_in(annotation)
    for kind in (datetime, date, time):  # datetime first: it is also a date
        if kind in types:
            return kind
    return None


def _refused_at(model: type[BaseModel], field: str, value) -> list[dict]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate({field: value})
    return [e for e in raised.value.errors() if e["loc"] and e["loc"][0] == field]


TEMPORAL_FIELDS = [(m, f, _temporal(a)) for m, f, a in MODEL_FIELDS if _temporal(a)]
TEXT_FIELDS = [(m, f, a) for m, f, a in MODEL_FIELDS if str in _types_in(a)]


def test_the_walk_finds_the_fields_it_should():
    names = {(m.__name__, f) for m, f, _ in TEMPORAL_FIELDS}
    assert {("ScheduleIn", "opens_at"), ("ApiKeyCreate", "expires_at")} <= names
    assert ("CapacityUpdate", "paused_until") in names
    assert len(TEXT_FIELDS) > 30


@pytest.mark.parametrize(
    "model,field,kind", TEMPORAL_FIELDS, ids=[f"{m.__name__}.{f}" for m, f, _ in TEMPORAL_FIELDS]
)
def test_every_body_date_time_and_datetime_refuses_what_is_not_iso_or_out_of_range(
    model, field, kind
):
    for value in BAD[kind]:
        assert _refused_at(model, field, value), f"{model.__name__}.{field} accepted {value!r}"


@pytest.mark.parametrize(
    "model,field,annotation", TEXT_FIELDS, ids=[f"{m.__name__}.{f}" for m, f, _ in TEXT_FIELDS]
)
def test_every_body_text_field_refuses_control_characters(model, field, annotation):
    for text in BAD_TEXT:
        value = [text] if list in _types_in(annotation) else text
        errors = _refused_at(model, field, value)
        assert errors, f"{model.__name__}.{field} accepted {text!r}"


def _dependant_params(dependant, kind):
    yield from getattr(dependant, kind)
    for sub in dependant.dependencies:
        yield from _dependant_params(sub, kind)


QUERY_PARAMS = sorted(
    {
        (route.name, field.alias): field
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for field in _dependant_params(route.dependant, "query_params")
    }.items()
)
TEMPORAL_QUERY = [
    (key, field) for key, field in QUERY_PARAMS if _temporal(field.field_info.annotation)
]


def test_temporal_query_parameters_are_found():
    names = {alias for (_, alias), _ in TEMPORAL_QUERY}
    assert {"modified_after", "since", "until", "from", "to", "available_from"} <= names


@pytest.mark.parametrize(
    "key,field", TEMPORAL_QUERY, ids=[f"{r}?{a}" for (r, a), _ in TEMPORAL_QUERY]
)
def test_every_temporal_query_parameter_refuses_bad_values(key, field):
    kind = _temporal(field.field_info.annotation)
    for value in BAD[kind]:
        _, errors = field.validate(str(value), loc=("query", field.alias))
        assert errors, f"{key} accepted {value!r}"
        assert errors[0]["loc"] == ("query", field.alias)


def _all_operations(app):
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            yield method.upper(), path


def test_control_characters_in_any_query_are_refused_on_every_route(client):
    for method, path in _all_operations(client.app):
        concrete = path.format_map(_AnyId())
        response = client.request(method, concrete, params={"q": "a\x00b"})
        assert response.status_code == 422, (method, path, response.text)
        assert response.json()["errors"][0]["field"] == "query.q"


class _AnyId(dict):
    def __missing__(self, key):
        return str(uuid.uuid4())


# --- end to end, on whichever database the suite runs on ----------------------------------


@pytest.mark.parametrize("text", BAD_TEXT)
def test_control_characters_never_reach_the_database(client, session, text):
    organisation = create_organisation(client, status="published")
    venue = create_venue(client)
    before = client.get(f"/v1/organisations/{organisation['id']}").json()

    def send(method, path, body, **headers):
        # json.dumps escapes a lone surrogate as "\ud800", as a browser's JSON.stringify does
        headers["Content-Type"] = "application/json"
        return client.request(method, path, content=json.dumps(body), headers=headers)

    attempts = [
        send("POST", "/v1/organisations", organisation_body(name=f"Org {text}")),
        send(
            "PATCH", f"/v1/organisations/{organisation['id']}", {"name": text}, **{"If-Match": "*"}
        ),
        send("POST", "/v1/venues", {"name": text, "postcode": "BS5 6AW"}),
        send("PATCH", f"/v1/venues/{venue['id']}", {"name": text}, **ANY_VERSION),
        send(
            "POST",
            f"/v1/organisations/{organisation['id']}/support-needs",
            {"category_id": str(uuid.uuid4()), "urgency": "high", "description": text},
        ),
    ]
    if "\ud800" not in text:  # a URL cannot carry a lone surrogate at all
        attempts += [
            client.get("/v1/taxonomy-terms", params={"q": text}),
            client.get("/v1/referral-options", params={"q": text}),
            client.get("/v1/referral-options", params={"need": text}),
        ]
    for response in attempts:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        # pydantic refuses a lone surrogate itself (string_unicode); the rest are ours
        assert response.json()["errors"][0]["type"] in {"control_characters", "string_unicode"}
    assert client.get(f"/v1/organisations/{organisation['id']}").json() == before


@pytest.mark.parametrize(
    "body,field",
    [
        (b"username=a%00b&password=x", "body.username"),
        (b"username=a%1Bb&password=x", "body.username"),
        (b"username=a%40b.example&password=%00", "body.password"),
        (b"username=a%40b.example", "body.password"),
        (b"username=a%40b.example&password=x&grant_type=client_credentials", "body.grant_type"),
    ],
)
def test_malformed_sign_in_forms_are_422_naming_the_field(anon, body, field):
    response = anon.post(
        "/v1/auth/token",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


def test_a_lone_surrogate_in_a_sign_in_form_is_an_ordinary_refusal(anon):
    # URL decoding turns the UTF-8 bytes of a lone surrogate into U+FFFD: no such account.
    response = anon.post(
        "/v1/auth/token",
        content=b"username=%ED%A0%80&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


def test_undecodable_json_is_400_or_422_and_never_500(client):
    for content in (b"\xff\xfe{", b'{"name": "\\ud800"}', b'{"name": "a\\u0000b"}'):
        response = client.post(
            "/v1/organisations", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "params",
    [
        {"modified_after": "0001-01-01T00:00:00+01:00"},
        {"modified_after": "9999-12-31T23:59:59-01:00"},
        {"modified_after": "0.5"},
        {"modified_after": "0"},
    ],
)
def test_edge_datetimes_in_listings_are_422(anon, params):
    for path in ("/v1/activities", "/v1/organisations", "/v1/venues"):
        response = anon.get(path, params=params)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "query.modified_after"


@pytest.mark.parametrize("value", ["10:00Z", "10:00+01:00"])
def test_times_with_an_offset_are_refused_in_search_and_schedules(as_role, client, value):
    from app.accounts.models import GlobalRole

    link_worker = as_role(GlobalRole.link_worker)
    response = link_worker.get("/v1/referral-options", params={"available_from": value})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.available_from"
    organisation = create_organisation(client)
    schedule = {"freq": "WEEKLY", "byday": "TU", "opens_at": value, "closes_at": "23:00"}
    response = client.post(
        "/v1/activities", json=activity_body(organisation["id"], schedules=[schedule])
    )
    assert response.status_code == 422
    assert "offset" in response.json()["errors"][0]["message"]


def test_schedule_times_are_uk_local_and_echoed_as_stored(client):
    organisation = create_organisation(client)
    activity = create_activity(
        client,
        organisation["id"],
        schedules=[{"freq": "WEEKLY", "byday": "TU", "opens_at": "10:00", "closes_at": "12:00"}],
    )
    stored = client.get(f"/v1/activities/{activity['id']}").json()["schedules"][0]
    assert activity["schedules"][0]["opens_at"] == stored["opens_at"] == "10:00:00"


@pytest.mark.parametrize(
    "url,accepted",
    [
        ("https://\u00d24\x00\u0105]", False),
        ("https://exa mple.org", False),
        ("javascript:alert(1)", False),
        ("ftp://example.org/file", False),
        ("https://", False),
        ("https://localhost/x", True),
        ("https://easton-arts.example.org/sing?day=tue", True),
        ("http://bristol.gov.uk", True),
    ],
)
def test_websites_must_be_real_web_addresses(client, url, accepted):
    response = client.post("/v1/organisations", json=organisation_body(website=url))
    assert (response.status_code == 201) is accepted, response.text
    if not accepted:
        assert response.json()["errors"][0]["field"] == "body.website"


def test_a_body_of_thousands_of_bad_keys_gets_a_short_answer(client):
    body = {f"unknown_{n}": n for n in range(5000)}
    response = client.post("/v1/organisations", json=body)
    assert response.status_code == 422
    problem = response.json()
    assert len(problem["errors"]) == 50
    assert "more errors" in problem["detail"]
    assert len(response.content) < 20_000


def test_a_body_over_the_limit_is_413(client):
    body = {"name": "x" * 1_100_000}
    response = client.post("/v1/organisations", json=body)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


def test_a_streamed_body_over_the_limit_is_413_too(client, session):
    """No Content-Length to trust: the limit is counted as the body arrives."""
    before = client.get("/v1/organisations").json()["total_items"]

    def chunks():
        yield b'{"name": "'
        for _ in range(120):
            yield b"x" * 10_000
        yield b'", "legal_form": "charity"}'

    response = client.post(
        "/v1/organisations", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert client.get("/v1/organisations").json()["total_items"] == before


def test_last_confirmed_at_cannot_be_in_the_future(client):
    organisation = create_organisation(client)
    future = activity_body(organisation["id"], last_confirmed_at="2199-01-01T00:00:00Z")
    response = client.post("/v1/activities", json=future)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.last_confirmed_at"
