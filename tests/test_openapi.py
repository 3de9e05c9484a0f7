"""The checked-in contract is what the app serves; clients are generated from it."""

import json
from pathlib import Path

from app.cli import openapi_json
from app.main import app

DOCUMENT = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_checked_in_document_is_current():
    assert DOCUMENT.exists(), "run `make openapi` to write openapi/openapi.json"
    assert DOCUMENT.read_text(encoding="utf-8") == openapi_json(), (
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    )


def _operations():
    for path, methods in app.openapi()["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_operation_ids_are_unique_and_readable():
    ids = [operation["operationId"] for _, _, operation in _operations()]
    assert len(ids) == len(set(ids))
    assert all(op_id.isidentifier() and op_id.islower() for op_id in ids)


def test_every_write_documents_its_errors_and_has_an_example():
    schemas = app.openapi()["components"]["schemas"]
    for path, method, operation in _operations():
        if method not in {"post", "patch"}:
            continue
        responses = operation["responses"]
        assert "422" in responses, (method, path)
        assert "application/problem+json" in responses["422"]["content"], (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        json_body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if json_body:
            ref = json_body["schema"]["$ref"]
            assert schemas[ref.rsplit("/", 1)[1]].get("examples"), (method, path)


def test_every_operation_is_tagged_and_described():
    for path, method, operation in _operations():
        assert operation.get("tags"), (method, path)
        assert operation.get("summary"), (method, path)


def test_document_is_valid_json_with_the_api_title():
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    assert document["info"]["title"] == "Signpost"
