"""Sign-in and accounts as an attacker would try them: padded emails, forged forwarding
headers, old tokens after a password change, the last admin, a link worker who lost the
role, an archived organisation's key, and credentials that are present but empty."""

import pytest
from fastapi.testclient import TestClient

from app.accounts.models import GlobalRole, User
from app.core.config import get_settings
from app.main import create_app
from tests.factories import (
    PASSWORD,
    client_for,
    create_activity,
    create_organisation,
    key_client,
    make_api_key,
    make_user,
    patch,
)
from tests.referral_world import build_world


def sign_in(client, email, password=PASSWORD, **headers):
    return client.post(
        "/v1/auth/token", data={"username": email, "password": password}, headers=headers
    )


@pytest.mark.parametrize(
    "variant", [" editor@test.example", "EDITOR@test.example ", "\teditor@Test.Example"]
)
def test_the_lockout_keys_on_the_same_email_the_lookup_uses(anon, session, variant):
    make_user(session, email="editor@test.example")
    for _ in range(get_settings().signin_max_failures_per_account):
        assert sign_in(anon, "editor@test.example", "guess").status_code == 401
    assert sign_in(anon, variant).status_code == 429
    assert sign_in(anon, "editor@test.example").status_code == 429


def test_a_padded_email_still_signs_in_when_not_locked(anon, session):
    make_user(session, email="padded@test.example")
    assert sign_in(anon, "  Padded@Test.Example ").status_code == 200


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(anon, session, monkeypatch):
    monkeypatch.setattr(get_settings(), "signin_max_failures_per_address", 3)
    make_user(session, email="real@test.example")
    for n in range(3):
        forged = {"X-Forwarded-For": f"203.0.113.{n}"}
        assert sign_in(anon, f"spray{n}@test.example", "guess", **forged).status_code == 401
    # Choosing yet another address does not escape the per-address lockout.
    fresh = {"X-Forwarded-For": "198.51.100.7"}
    assert sign_in(anon, "real@test.example", **fresh).status_code == 429


def test_a_trusted_proxy_forwards_the_clients_address(session, monkeypatch):
    monkeypatch.setattr(get_settings(), "signin_max_failures_per_address", 3)
    monkeypatch.setattr(get_settings(), "trusted_proxies", ["testclient"])
    behind_proxy = TestClient(create_app())
    make_user(session, email="real@test.example")
    attacker = {"X-Forwarded-For": "203.0.113.9"}
    neighbour = {"X-Forwarded-For": "198.51.100.7"}
    for n in range(3):
        assert (
            sign_in(behind_proxy, f"spray{n}@test.example", "guess", **attacker).status_code == 401
        )
    assert sign_in(behind_proxy, "real@test.example", **attacker).status_code == 429
    # Another client behind the same proxy is a different address.
    assert sign_in(behind_proxy, "real@test.example", **neighbour).status_code == 200


def test_the_server_itself_never_believes_forwarding_headers(monkeypatch):
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; `signpost serve` turns that
    off, so only SIGNPOST_TRUSTED_PROXIES (checked in the app) decides."""
    import uvicorn

    from app.cli import serve

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    serve(host=None, port=None, workers=None, reload=False)
    assert seen["proxy_headers"] is False
    assert seen["access_log"] is False


def test_changing_a_password_ends_the_users_existing_tokens(anon, client, session):
    user = make_user(session, email="mover@test.example")
    old = sign_in(anon, "mover@test.example").json()["access_token"]
    also_old = client_for(user)
    assert anon.get("/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 200

    changed = client_for(user).post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "password": "a-brand-new-passphrase"},
    )
    assert changed.status_code == 200, changed.text

    assert anon.get("/v1/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert also_old.get("/v1/me").status_code == 401
    new = changed.json()["access_token"]
    assert anon.get("/v1/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    assert sign_in(anon, "mover@test.example").status_code == 401
    fresh = sign_in(anon, "mover@test.example", "a-brand-new-passphrase").json()["access_token"]
    assert anon.get("/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_other_changes_keep_tokens_working(client, session):
    user = make_user(session)
    own = client_for(user)
    assert client.patch(f"/v1/users/{user.id}", json={"display_name": "New"}).status_code == 200
    assert own.get("/v1/me").status_code == 200


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "steward"}, {"role": None}])
def test_the_last_active_admin_cannot_deactivate_or_demote_themselves(session, change):
    admin = make_user(session, role=GlobalRole.admin)
    make_user(
        session, role=GlobalRole.admin, is_active=False
    )  # an inactive admin counts for nothing
    me = client_for(admin)
    response = me.patch(f"/v1/users/{admin.id}", json=change)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    session.expire_all()
    assert session.get(User, admin.id).role is GlobalRole.admin
    assert session.get(User, admin.id).is_active

    second = make_user(session, role=GlobalRole.admin)
    assert me.patch(f"/v1/users/{admin.id}", json=change).status_code == 200
    assert client_for(second).get(f"/v1/users/{admin.id}").status_code == 200


def test_losing_the_link_worker_role_ends_access_to_referrals_at_once(session, client):
    world = build_world(session, client)
    user = make_user(session, role=GlobalRole.link_worker)
    link_worker = client_for(user)
    referral = world.refer(link_worker)
    path = f"/v1/referrals/{referral['id']}"
    assert link_worker.get(path).json()["contact"]["phone"] == "07700 900123"

    assert client.patch(f"/v1/users/{user.id}", json={"role": None}).status_code == 200

    assert link_worker.get(path).status_code == 404
    withdraw = link_worker.post(f"{path}/transitions", json={"status": "withdrawn"})
    assert withdraw.status_code == 404, withdraw.text  # the referral no longer exists for them
    assert client.get(path).json()["status"] == "sent"


def test_an_archived_organisations_key_changes_nothing(session, client):
    organisation = create_organisation(client, status="published")
    activity = create_activity(client, organisation["id"])
    key = key_client(
        make_api_key(session, organisation_id=organisation["id"], organisation_role="editor")
    )
    path = f"/v1/activities/{activity['id']}"
    assert patch(key, path, {"name": "Before archiving"}).status_code == 200

    assert client.post(f"/v1/organisations/{organisation['id']}/archive").status_code == 200

    refused = key.patch(path, json={"name": "After archiving"}, headers={"If-Match": "*"})
    assert refused.status_code == 404, refused.text  # archived listings are not the key's any more
    created = key.post("/v1/activities", json={"organisation_id": organisation["id"], "name": "X"})
    assert created.status_code == 422, created.text  # the organisation is not visible to it
    assert created.json()["errors"][0]["field"] == "body.organisation_id"
    assert client.get(path).json()["name"] == "Before archiving"


PUBLIC_READ = "/v1/activities"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Token abc"},
        {"X-API-Key": ""},
        {"X-API-Key": "   "},
        {"X-API-Key": "not-a-key"},
    ],
)
def test_empty_or_malformed_credentials_are_401_never_anonymous(anon, headers):
    response = anon.get(PUBLIC_READ, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert anon.get(PUBLIC_READ).status_code == 200
