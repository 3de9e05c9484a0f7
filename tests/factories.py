"""Small factories that create test data through the API, as a client would."""

from typing import Any

from fastapi.testclient import TestClient

_counter = 0


def _next() -> int:
    global _counter
    _counter += 1
    return _counter


def organisation_body(**overrides: Any) -> dict[str, Any]:
    return {"name": f"Test Organisation {_next()}", "legal_form": "charity", **overrides}


def venue_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": f"Test Venue {_next()}",
        "address_1": "1 High Street",
        "city": "Bristol",
        "postcode": "BS5 6AW",
        "latitude": 51.4614,
        "longitude": -2.5499,
        **overrides,
    }


def activity_body(organisation_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "organisation_id": organisation_id,
        "name": f"Test Activity {_next()}",
        "schedules": [{"freq": "WEEKLY", "byday": "TU", "opens_at": "10:00", "closes_at": "12:00"}],
        **overrides,
    }


def _created(response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()


def create_organisation(client: TestClient, **overrides: Any) -> dict[str, Any]:
    return _created(client.post("/v1/organisations", json=organisation_body(**overrides)))


def create_venue(client: TestClient, **overrides: Any) -> dict[str, Any]:
    return _created(client.post("/v1/venues", json=venue_body(**overrides)))


def create_activity(client: TestClient, organisation_id: str, **overrides: Any) -> dict[str, Any]:
    return _created(client.post("/v1/activities", json=activity_body(organisation_id, **overrides)))


def ids(page: dict[str, Any]) -> set[str]:
    return {item["id"] for item in page["contents"]}
