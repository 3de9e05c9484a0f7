"""HTTP behaviour clients rely on, checked over the whole route table: Allow on 405,
security headers, caching of personal answers, offline docs, and an OpenAPI document that
says what the server does (ETag, If-Match, per_page's maximum, public operations)."""

import csv
import io

import pytest

from app.core.config import get_settings
from app.core.csv_writer import FORMULA_STARTS, csv_rows, safe_cell
from app.core.openapi import public_operations
from app.main import ROUTERS, app
from tests.factories import client_for, create_activity, create_organisation, make_user
from tests.test_authorization_matrix import PUBLIC, RULES

SPEC = app.openapi()
OPERATIONS = {
    (method.upper(), path): operation
    for path, methods in SPEC["paths"].items()
    for method, operation in methods.items()
}


def _could_both_match(one: str, other: str) -> bool:
    """Whether some path matches both route templates: a parameter matches any one segment
    (whatever its convertor), a `:path` parameter any number of them."""
    a, b = one.strip("/").split("/"), other.strip("/").split("/")
    if any(":path}" in segment for segment in a + b):
        return True
    return len(a) == len(b) and all(
        x == y or x.startswith("{") or y.startswith("{") for x, y in zip(a, b, strict=True)
    )


def test_no_path_is_answered_by_routes_of_two_routers():
    """app/main.py orders ROUTERS by how often requests want them (FastAPI tries them in
    turn): that is safe only while the order decides nothing, i.e. no path could match
    routes of two routers, whatever their methods (the first match also answers a 405)."""
    routes = [(n, route.path) for n, router in enumerate(ROUTERS) for route in router.routes]
    clashes = [
        (one, other)
        for n, one in routes
        for m, other in routes
        if n < m and _could_both_match(one, other)
    ]
    assert clashes == []
    assert _could_both_match("/v1/activities/{activity_id}", "/v1/activities/export")
    assert not _could_both_match("/v1/activities/{activity_id}", "/v1/activities")


@pytest.mark.parametrize("path", sorted(SPEC["paths"]))
def test_405_lists_every_allowed_method(anon, path):
    documented = {m.upper() for m in SPEC["paths"][path]}
    unused = next(m for m in ("PUT", "DELETE", "PATCH", "POST") if m not in documented)
    concrete = path.replace("{", "").replace("}", "")  # any segment matches a parameter
    response = anon.request(unused, concrete)
    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    expected = documented | ({"HEAD"} if "GET" in documented else set())
    # Other routes may match the same concrete path (e.g. /v1/venues/venue_id and a
    # literal segment), so what is documented here must be a subset of what is allowed.
    assert expected <= allowed
    assert response.headers["content-type"] == "application/problem+json"


def test_405_allow_names_methods_of_sibling_routes(client):
    organisation = create_organisation(client)
    response = client.put(f"/v1/organisations/{organisation['id']}")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH"}


def test_security_headers_on_every_kind_of_answer(anon, client):
    answers = [
        anon.get("/v1/activities"),
        anon.get("/healthz"),
        anon.get("/v1/nowhere"),
        anon.get("/v1/activities", params={"per_page": 0}),
        client.get("/v1/me"),
    ]
    for response in answers:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"


def test_authenticated_answers_are_never_stored_by_caches(anon, session, client):
    organisation = create_organisation(client)
    create_activity(client, organisation["id"])
    link_worker = client_for(make_user(session))
    for response in (client.get("/v1/me"), link_worker.get("/v1/activities")):
        assert response.headers["cache-control"] == "no-store"
    assert "no-store" not in anon.get("/v1/activities").headers.get("cache-control", "")


def test_docs_work_offline(anon):
    for page in ("/docs", "/redoc"):
        html = anon.get(page)
        assert html.status_code == 200
        assert "cdn.jsdelivr" not in html.text and "unpkg" not in html.text
        assert "/static-offline-docs/" in html.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        response = anon.get(f"/static-offline-docs/{asset}")
        assert response.status_code == 200
        assert len(response.content) > 10_000


def test_if_match_is_documented_as_required_and_etag_as_a_response_header():
    with_if_match = [
        (key, op)
        for key, op in OPERATIONS.items()
        if any(p["name"] == "If-Match" for p in op.get("parameters", []))
    ]
    assert len(with_if_match) >= 5
    for (method, path), operation in with_if_match:
        parameter = next(p for p in operation["parameters"] if p["name"] == "If-Match")
        assert parameter["required"] is True, path
        assert "ETag" in operation["responses"]["200"]["headers"], (method, path)
        read = OPERATIONS.get(("GET", path))
        if read:
            assert "ETag" in read["responses"]["200"]["headers"], path


def test_per_page_states_its_maximum_everywhere():
    pages = [
        p for op in OPERATIONS.values() for p in op.get("parameters", []) if p["name"] == "per_page"
    ]
    assert len(pages) > 10
    for parameter in pages:
        schema = parameter["schema"]
        bounds = [s for s in schema.get("anyOf", [schema]) if s.get("type") == "integer"]
        assert bounds[0]["maximum"] == get_settings().max_page_size


def test_public_operations_say_no_authentication_is_needed():
    """Cross-checked with the authorisation matrix: a route anonymous callers may use has
    an empty security requirement, and no other route has one."""
    anonymous_ok = {route for route, (allowed, _, _) in RULES.items() if "anonymous" in allowed}
    anonymous_ok |= set(PUBLIC) | {("POST", "/v1/auth/token")}
    for key, operation in OPERATIONS.items():
        optional = {} in operation.get("security", [{}])
        assert optional == (key in anonymous_ok), key
    assert {OPERATIONS[key]["operationId"] for key in anonymous_ok} <= public_operations(
        ROUTERS
    ) | {"sign_in"}


def test_every_operation_documents_its_errors_as_problem_json():
    for key, operation in OPERATIONS.items():
        for status in ("413", "500", *(["400"] if "requestBody" in operation else [])):
            assert status in operation["responses"], key
        for status, response in operation["responses"].items():
            if key == ("GET", "/readyz") and status == "503":
                continue  # a readiness probe answers its Health body, as load balancers expect
            if key[1] == "/v1/still-accurate" and status in {"400", "404", "409", "410"}:
                # The one-click link in freshness emails is opened in a browser: why the
                # link cannot be used is a page for a person (422 stays problem+json).
                assert list(response["content"]) == ["text/html"], (key, status)
                continue
            if status[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (key, status)


# --- CSV: every cell that a spreadsheet would run is neutralised --------------------------


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_formula_cells_are_neutralised(start):
    value = f'{start}HYPERLINK("http://evil.example","click")'
    assert safe_cell(value) == "'" + value
    assert safe_cell("Easton Arts") == "Easton Arts"
    assert safe_cell(-3) == -3 and safe_cell(2.5) == 2.5 and safe_cell(None) == ""


def test_report_csv_neutralises_organisation_names(client, session):
    from tests.referral_world import build_world

    world = build_world(session, client)
    evil = '=HYPERLINK("http://evil.example","x")'
    organisation = client.patch(
        f"/v1/organisations/{world.organisation['id']}",
        json={"name": evil},
        headers={"If-Match": "*"},
    )
    assert organisation.status_code == 200
    for _ in range(5):
        world.refer()
    response = client.get(
        "/v1/reports/referrals", params={"group_by": "organisation", "format": "csv"}
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    names = [row[rows[0].index("organisation")] for row in rows[1:]]
    assert names == ["'" + evil]
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows[1:] for cell in row)


def test_the_csv_writer_streams_a_header_then_rows():
    lines = list(csv_rows(["a", "b"], [{"a": "=1+1", "b": 2}, {"a": None, "b": "@x"}]))
    assert lines == ["a,b\r\n", "'=1+1,2\r\n", ",'@x\r\n"]
