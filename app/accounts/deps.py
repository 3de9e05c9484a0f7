"""Authentication and permission dependencies: every route declares what it needs."""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlmodel import Session, select

from app.accounts.models import ApiKey, GlobalRole, Membership, User
from app.accounts.principal import ANONYMOUS, Principal
from app.accounts.principal_cache import principals
from app.accounts.security import decode_access_token, secret_matches, split_api_key
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.core.types import utcnow
from app.organisations.models import Organisation
from app.teams import service as teams

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/v1/auth/token", auto_error=False, description="Bearer token from /v1/auth/token"
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key for scripts and integrations"
)

# Writing last_used_at on every request would turn reads into writes; once a while is enough.
KEY_USE_RESOLUTION = timedelta(minutes=5)


async def get_principal(
    session: SessionDep,
    request: Request,
    token: Annotated[str | None, Security(bearer_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> Principal:
    """Who is calling: anonymous, a signed-in user, or an API key. Bad credentials are 401,
    including an empty or non-bearer `Authorization` or an empty `X-API-Key`: a caller who
    sent credentials never silently becomes anonymous. Async: a credential the worker
    remembers (``principals``) costs no I/O, and only one it must look up goes to a thread."""
    if "authorization" in request.headers and not token:
        raise Unauthorized("Authorization must be `Bearer <token>` from /v1/auth/token")
    if "x-api-key" in request.headers and not api_key:
        raise Unauthorized("The X-API-Key header is empty")
    if token and api_key:
        raise Unauthorized("Send either a bearer token or an API key, not both")
    if api_key:
        principal = principals.remembered(api_key) or await run_in_threadpool(
            principals.lookup, api_key, lambda: _principal_for_key(session, api_key)
        )
    elif token:
        claims = decode_access_token(token)  # signature and expiry: on every request
        if claims is None:
            raise Unauthorized(INVALID_TOKEN)
        principal = principals.remembered(token) or await run_in_threadpool(
            principals.lookup, token, lambda: (_principal_for_token(session, claims), None)
        )
    else:
        principal = ANONYMOUS
    session.info["principal"] = principal  # the audit log records who wrote
    return principal


INVALID_TOKEN = "The bearer token is invalid or has expired; sign in again"


def _principal_for_token(session: Session, claims: tuple[uuid.UUID, int]) -> Principal:
    user = session.get(User, claims[0])
    if user is None or not user.is_active or user.token_version != claims[1]:
        raise Unauthorized(INVALID_TOKEN)
    memberships = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    return Principal(
        kind="user",
        id=user.id,
        role=user.role,
        memberships={m.organisation_id: m.role for m in memberships},
        areas=frozenset(uuid.UUID(a) for a in user.area_ids),
        teammates=teams.teammates(session, user.id)
        if user.role is GlobalRole.link_worker
        else frozenset(),
    )


def _principal_for_key(session: Session, api_key: str) -> tuple[Principal, datetime | None]:
    parts = split_api_key(api_key)
    # The key and its organisation's archived_at in one round trip: this runs per request.
    found = (
        session.exec(
            select(ApiKey, Organisation.archived_at)
            .outerjoin(Organisation, Organisation.id == ApiKey.organisation_id)
            .where(ApiKey.prefix == parts[0])
        ).first()
        if parts
        else None
    )
    key, organisation_archived_at = found or (None, None)
    now = utcnow()
    if (
        key is None
        or not secret_matches(parts[1], key.secret_hash)
        or key.revoked_at is not None
        or (key.expires_at is not None and key.expires_at <= now)
    ):
        raise Unauthorized("The API key is invalid, expired or revoked")
    if key.last_used_at is None or now - key.last_used_at > KEY_USE_RESOLUTION:
        key.last_used_at = now
        session.add(key)
    # An organisation's key acts for it only while it is not archived: afterwards the key
    # still authenticates but can change nothing and sees only what the public sees.
    memberships = (
        {key.organisation_id: key.organisation_role}
        if key.organisation_id and key.organisation_role and organisation_archived_at is None
        else {}
    )
    principal = Principal(
        kind="api_key",
        id=key.id,
        role=key.role,
        memberships=memberships,
        areas=frozenset(uuid.UUID(a) for a in key.area_ids),
    )
    return principal, key.expires_at


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def require_authenticated(principal: CurrentPrincipal) -> Principal:
    if not principal.is_authenticated:
        raise Unauthorized()
    return principal


Authenticated = Annotated[Principal, Depends(require_authenticated)]


def require_roles(*roles: GlobalRole) -> Callable[[Principal], Principal]:
    names = ", ".join(role.value for role in roles)

    async def dependency(principal: Authenticated) -> Principal:
        if not principal.has_role(*roles):
            raise Forbidden(f"This needs one of these roles: {names}")
        return principal

    return dependency


AdminPrincipal = Annotated[Principal, Depends(require_roles(GlobalRole.admin))]


def require_organisation_editor(principal: Principal, organisation_id: uuid.UUID) -> None:
    if not principal.can_edit_organisation(organisation_id):
        raise Forbidden("Only this organisation's members, stewards and admins may change it")
