"""Small factories: accounts straight into the database, listings through the API."""

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts.models import GlobalRole, Membership, OrganisationRole, User
from app.accounts.security import create_access_token, hash_password
from app.main import app

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run

_counter = 0


def _next() -> int:
    global _counter
    _counter += 1
    return _counter


def make_user(
    session: Session,
    role: GlobalRole | None = None,
    member_of: dict[Any, str] | None = None,
    email: str | None = None,
    is_active: bool = True,
) -> User:
    user = User(
        email=email or f"user{_next()}@test.example",
        display_name="Test User",
        password_hash=_PASSWORD_HASH,
        role=role,
        is_active=is_active,
    )
    session.add(user)
    session.flush()
    for organisation_id, org_role in (member_of or {}).items():
        session.add(
            Membership(
                user_id=user.id,
                organisation_id=uuid.UUID(str(organisation_id)),
                role=OrganisationRole(org_role),
            )
        )
    session.commit()
    return user


def token_for(user: User) -> str:
    return create_access_token(user.id, user.token_version)[0]


def client_for(user: User | None) -> TestClient:
    client = TestClient(app)
    if user is not None:
        client.headers["Authorization"] = f"Bearer {token_for(user)}"
    return client


def patch(client: TestClient, path: str, json: Any = None, **kwargs: Any):
    """PATCH as a careful client does: read the ETag first and send it as If-Match."""
    etag = client.get(path).headers.get("etag")
    headers = {"If-Match": etag} if etag else {}
    return client.patch(path, json=json, headers=headers, **kwargs)


def organisation_body(**overrides: Any) -> dict[str, Any]:
    return {"name": f"Test Organisation {_next()}", "legal_form": "charity", **overrides}


def venue_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": f"Test Venue {_next()}",
        "address_1": "1 High Street",
        "city": "Bristol",
        "postcode": "BS5 6AW",  # placed by its postcode, as most venues are
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


def create_listing(client: TestClient, **overrides: Any) -> dict[str, Any]:
    """An activity link workers can find: a published organisation's, at a venue placed by
    its postcode (BS5 6AW), everything entered through the API."""
    organisation = create_organisation(client, status="published")
    venue = create_venue(client)
    return create_activity(client, organisation["id"], venue_ids=[venue["id"]], **overrides)


def ids(page: dict[str, Any]) -> set[str]:
    return {item["id"] for item in page["contents"]}


def make_api_key(session: Session, **scope: Any) -> str:
    """Store a key with the given scope (role=…, organisation_id=…, …); return the key."""
    from app.accounts.models import ApiKey
    from app.accounts.security import new_api_key

    key, prefix, secret_hash = new_api_key()
    if scope.get("organisation_id"):
        scope["organisation_id"] = uuid.UUID(str(scope["organisation_id"]))
    session.add(ApiKey(name=f"key {_next()}", prefix=prefix, secret_hash=secret_hash, **scope))
    session.commit()
    return key


def key_client(key: str) -> TestClient:
    client = TestClient(app)
    client.headers["X-API-Key"] = key
    return client


ASSURED_ITEMS = [
    {
        "kind": "safeguarding_policy",
        "has_policy": True,
        "last_reviewed_on": "2026-09-01",
        "review_due_on": "2027-09-01",
        "evidence_reference": "https://docs.test.example/safeguarding.pdf",
    },
    {
        "kind": "public_liability_insurance",
        "insurer": "Community Mutual",
        "expires_on": "2027-06-30",
        "evidence_reference": "DOC-INS-1",
    },
    {"kind": "ico_registration", "registration_number": "ZA123456"},
]


def assure(session: Session, admin: TestClient, organisation_id: str, items=None) -> list[dict]:
    """Submit the required assurance items (as an admin) and have a steward verify them."""
    steward = client_for(make_user(session, role=GlobalRole.steward))
    created = []
    for body in items or ASSURED_ITEMS:
        response = admin.post(f"/v1/organisations/{organisation_id}/assurance-items", json=body)
        assert response.status_code == 201, response.text
        verified = steward.post(f"/v1/assurance-items/{response.json()['id']}/verify")
        assert verified.status_code == 200, verified.text
        created.append(verified.json())
    return created
