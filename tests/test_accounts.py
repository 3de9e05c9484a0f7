from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlmodel import select

from app.accounts.models import ApiKey, GlobalRole, SignInThrottle, User
from app.core.config import get_settings
from tests.factories import (
    PASSWORD,
    client_for,
    create_organisation,
    key_client,
    make_api_key,
    make_user,
)

PROBLEM = "application/problem+json"


def sign_in(client, email, password=PASSWORD, **kwargs):
    return client.post("/v1/auth/token", data={"username": email, "password": password}, **kwargs)


def test_sign_in_returns_a_token_that_identifies_the_user(anon, session):
    organisation = create_organisation(client_for(make_user(session, role=GlobalRole.admin)))
    user = make_user(session, member_of={organisation["id"]: "editor"}, email="jo@test.example")
    response = sign_in(anon, "JO@test.example")
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == get_settings().access_token_minutes * 60
    me = anon.get("/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)
    assert me.json()["kind"] == "user"
    assert me.json()["memberships"] == [
        {
            "organisation_id": organisation["id"],
            "organisation_name": organisation["name"],
            "role": "editor",
        }
    ]
    session.expire_all()
    assert session.get(User, user.id).last_login_at is not None


def test_wrong_password_and_unknown_email_look_the_same(anon, session):
    make_user(session, email="known@test.example")
    wrong = sign_in(anon, "known@test.example", "not the password")
    unknown = sign_in(anon, "nobody@test.example", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"] == PROBLEM
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_inactive_account_cannot_sign_in_or_use_its_token(anon, session):
    user = make_user(session, email="gone@test.example")
    client = client_for(user)
    assert client.get("/v1/me").status_code == 200
    user.is_active = False
    session.add(user)
    session.commit()
    assert sign_in(anon, "gone@test.example").status_code == 401
    assert client.get("/v1/me").status_code == 401


def test_repeated_failures_lock_the_account_for_a_while(anon, session):
    make_user(session, email="target@test.example")
    limit = get_settings().signin_max_failures_per_account
    for _ in range(limit):
        assert sign_in(anon, "target@test.example", "guess").status_code == 401
    locked = sign_in(anon, "target@test.example")  # even the right password
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert locked.headers["content-type"] == PROBLEM
    # The throttle stores a keyed hash, never the email.
    keys = session.exec(select(SignInThrottle.key)).all()
    assert keys and all("target" not in key for key in keys)


def test_an_unknown_email_locks_the_same_way(anon):
    limit = get_settings().signin_max_failures_per_account
    for _ in range(limit):
        sign_in(anon, "ghost@test.example", "guess")
    assert sign_in(anon, "ghost@test.example", "guess").status_code == 429


def test_one_address_trying_many_accounts_is_slowed(anon, session, monkeypatch):
    monkeypatch.setattr(get_settings(), "signin_max_failures_per_address", 3)
    make_user(session, email="real@test.example")
    for n in range(3):
        sign_in(anon, f"spray{n}@test.example", "guess")
    assert sign_in(anon, "real@test.example").status_code == 429


def test_success_clears_the_account_counter(anon, session):
    make_user(session, email="forgetful@test.example")
    for _ in range(get_settings().signin_max_failures_per_account - 1):
        sign_in(anon, "forgetful@test.example", "guess")
    assert sign_in(anon, "forgetful@test.example").status_code == 200
    assert sign_in(anon, "forgetful@test.example", "guess").status_code == 401
    assert sign_in(anon, "forgetful@test.example").status_code == 200


def _token(claims, key=None, algorithm="HS256"):
    return jwt.encode(claims, key or get_settings().secret_key.get_secret_value(), algorithm)


@pytest.fixture
def user(session):
    return make_user(session)


def _claims(user, **overrides):
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "ver": user.token_version,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": "signpost",
    }
    return {**claims, **overrides}


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(
            lambda u: _token(_claims(u), key="someone-elses-secret-key-32-bytes!"),
            id="wrong-signature",
        ),
        pytest.param(lambda u: jwt.encode(_claims(u), key=None, algorithm="none"), id="alg-none"),
        pytest.param(
            lambda u: _token(_claims(u, exp=datetime.now(UTC) - timedelta(seconds=1))), id="expired"
        ),
        pytest.param(lambda u: _token(_claims(u, iss="elsewhere")), id="wrong-issuer"),
        pytest.param(lambda u: _token({"sub": str(u.id)}), id="no-expiry"),
        pytest.param(lambda u: _token(_claims(u, sub="not-a-uuid")), id="bad-subject"),
        pytest.param(lambda u: "not.a.jwt", id="garbage"),
    ],
)
def test_forged_or_broken_tokens_are_refused(anon, user, make_token):
    response = anon.get("/v1/me", headers={"Authorization": f"Bearer {make_token(user)}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_valid_token_works(anon, user):
    response = anon.get("/v1/me", headers={"Authorization": f"Bearer {_token(_claims(user))}"})
    assert response.status_code == 200


def test_missing_credentials_on_a_protected_route_is_401(anon):
    response = anon.get("/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_and_key_together_are_refused(session, user):
    client = client_for(user)
    client.headers["X-API-Key"] = make_api_key(session, role=GlobalRole.commissioner)
    assert client.get("/v1/me").status_code == 401


# --- API keys -----------------------------------------------------------------------------


def test_admin_creates_a_key_shown_once_and_stored_only_as_a_hash(client, session):
    created = client.post("/v1/api-keys", json={"name": "ICB dashboard", "role": "commissioner"})
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith(f"sp_{body['prefix']}_")
    listed = client.get("/v1/api-keys").json()
    assert listed["total_items"] == 1
    assert "key" not in listed["contents"][0]
    stored = session.exec(select(ApiKey)).one()
    assert key.split("_", 2)[2] not in repr(stored.model_dump())
    assert len(stored.secret_hash) == 64

    me = key_client(key).get("/v1/me").json()
    assert (me["kind"], me["role"], me["display_name"]) == (
        "api_key",
        "commissioner",
        "ICB dashboard",
    )


def test_a_commissioner_key_reads_but_cannot_write(session):
    commissioner = key_client(make_api_key(session, role=GlobalRole.commissioner))
    assert commissioner.get("/v1/organisations").status_code == 200
    refused = commissioner.post("/v1/organisations", json={"name": "X", "legal_form": "charity"})
    assert refused.status_code == 403


def test_an_organisation_key_edits_only_its_organisation(client, session):
    own = create_organisation(client, status="published")
    other = create_organisation(client, status="published")
    integration = key_client(
        make_api_key(session, organisation_id=own["id"], organisation_role="editor")
    )
    ok = integration.post("/v1/activities", json={"organisation_id": own["id"], "name": "Feed"})
    assert ok.status_code == 201
    refused = integration.post(
        "/v1/activities", json={"organisation_id": other["id"], "name": "Feed"}
    )
    assert refused.status_code == 403


def test_revoked_expired_and_mangled_keys_are_refused(client, session):
    key = client.post("/v1/api-keys", json={"name": "k", "role": "commissioner"}).json()
    assert key_client(key["key"]).get("/v1/me").status_code == 200
    assert client.post(f"/v1/api-keys/{key['id']}/revoke").json()["revoked_at"]
    assert key_client(key["key"]).get("/v1/me").status_code == 401

    past = datetime.now(UTC) - timedelta(minutes=1)
    expired = make_api_key(session, role=GlobalRole.commissioner, expires_at=past)
    assert key_client(expired).get("/v1/me").status_code == 401

    live = make_api_key(session, role=GlobalRole.commissioner)
    for mangled in (live[:-2] + "xx", live.replace("sp_", "xx_"), "sp_", "sp_abc", "x" * 300):
        assert key_client(mangled).get("/v1/me").status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"name": "k", "role": "admin"},
        {"name": "k"},
        {"name": "k", "organisation_id": "00000000-0000-4000-8000-000000000000"},
    ],
)
def test_key_scopes_are_checked(client, body):
    response = client.post("/v1/api-keys", json=body)
    assert response.status_code == 422
    assert client.get("/v1/api-keys").json()["total_items"] == 0
