import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request, Response, status

from app.accounts import self_service, service
from app.accounts.deps import AdminPrincipal, Authenticated
from app.accounts.models import ApiKey, GlobalRole, User
from app.accounts.schemas import (
    Accepted,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyPublic,
    EmailOnly,
    LinkToken,
    Me,
    MemberPage,
    PasswordChange,
    PasswordReset,
    SignUp,
    Token,
    UserPage,
    UserPublic,
    UserUpdate,
)
from app.core.db import LoaderSessionDep, SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.inputs import Text
from app.core.pagination import PageDep
from app.idempotency.service import Idempotent, IdempotentRoute
from app.organisations.deps import ManagedOrganisationId

router = APIRouter(route_class=IdempotentRoute, prefix="/v1", tags=["accounts"])


@router.post(
    "/auth/token", responses=problem_responses(401, 422, 429), openapi_extra={"security": []}
)
def sign_in(
    session: SessionDep,
    request: Request,
    username: Annotated[Text, Form(min_length=1, max_length=254, description="Your email")],
    password: Annotated[
        Text, Form(min_length=1, max_length=1024, json_schema_extra={"format": "password"})
    ],
    grant_type: Annotated[
        str | None, Form(pattern="^password$", description="OAuth 2 clients send `password`")
    ] = None,
) -> Token:
    """Sign in with email (as `username`) and password, form-encoded as OAuth 2's password
    grant; returns a short-lived bearer token. Repeated failures for one account or address
    are locked out for a while (429). The address is the connecting one, or the one a
    trusted proxy (`SIGNPOST_TRUSTED_PROXIES`) forwarded."""
    address = request.client.host if request.client else "unknown"
    return service.sign_in(session, username, password, address)


# --- signing up and passwords, by the person themselves ------------------------------------


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/auth/sign-up",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422, 429),
    openapi_extra={"security": []},
)
def sign_up(session: SessionDep, request: Request, body: SignUp) -> Accepted:
    """Create an account: it stays inactive until its owner follows the link emailed to
    the address (single-use, 48 hours). The answer is the same whether or not the address
    already has an account (its owner is emailed about the attempt instead). Then join an
    organisation by registering it (`POST /v1/organisations`)."""
    self_service.sign_up(session, body, _address(request))
    return Accepted(detail=self_service.ACCEPTED)


@router.post(
    "/auth/verify-email", responses=problem_responses(400, 422), openapi_extra={"security": []}
)
def verify_email(session: SessionDep, body: LinkToken) -> Token:
    """Confirm the address with the token from the sign-up email: the account becomes
    active and this answers a bearer token, as signing in does."""
    return self_service.verify_email(session, body.token)


@router.post(
    "/auth/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422, 429),
    openapi_extra={"security": []},
)
def forgot_password(session: SessionDep, request: Request, body: EmailOnly) -> Accepted:
    """Email a link to choose a new password (single-use, one hour). The same answer for
    addresses with and without an account."""
    self_service.forgot_password(session, body.email, _address(request))
    return Accepted(detail=self_service.ACCEPTED)


@router.post(
    "/auth/reset-password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(400, 422),
    openapi_extra={"security": []},
)
def reset_password(session: SessionDep, body: PasswordReset) -> None:
    """Choose a new password with the token from the email. Every token and link issued
    before stops working; sign in with the new password."""
    self_service.reset_password(session, body.token, body.password)


@router.post("/me/password", responses=problem_responses(401, 403, 422, 429))
def change_password(session: SessionDep, principal: Authenticated, body: PasswordChange) -> Token:
    """Change your own password (your current one is required). Your other tokens end;
    this answers a new one for you to carry on with."""
    return self_service.change_password(session, principal, body)


@router.get("/me", responses=problem_responses(401))
def get_me(session: StatementSessionDep, principal: Authenticated) -> Me:
    """The caller: a user with their memberships, or an API key's scope."""
    if principal.kind == "api_key":
        key = session.get(ApiKey, principal.id)
        return Me(
            kind="api_key",
            id=key.id,
            email=None,
            display_name=key.name,
            role=key.role,
            is_active=True,
            last_login_at=key.last_used_at,
            created_at=key.created_at,
            area_ids=key.area_ids,
            memberships=[
                {"organisation_id": org, "organisation_name": name, "role": role}
                for org, name, role in service.named_memberships(session, principal)
            ],
        )
    user = session.get(User, principal.id)
    return Me(kind="user", **service.user_public(session, user).model_dump())


@router.delete(
    "/me/memberships/{organisation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 409, 422),
)
def leave_organisation(
    session: SessionDep,
    principal: Authenticated,
    organisation_id: Annotated[uuid.UUID, Path(description="The organisation to leave")],
) -> None:
    """Leave an organisation. Its last admin cannot leave until another admin is added."""
    service.leave_organisation(session, principal, organisation_id)


@router.delete(
    "/me", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 409)
)
def delete_me(session: SessionDep, principal: Authenticated) -> None:
    """Delete your account: your name and email are erased and it can never sign in
    again; what you did stays in the audit log, under your account's id. The last admin
    (of Signpost, or of an organisation) must hand over first."""
    service.delete_own_account(session, principal)


# --- users (admins) -----------------------------------------------------------------------


def user_from_path(
    session: LoaderSessionDep,
    _admin: AdminPrincipal,
    user_id: Annotated[uuid.UUID, Path(description="The user's id")],
) -> User:
    return service.get_user(session, user_id)


AdminUser = Annotated[User, Depends(user_from_path)]


@router.get("/users", responses=problem_responses(401, 403, 422))
def list_users(
    session: StatementSessionDep,
    _admin: AdminPrincipal,
    page: PageDep,
    role: GlobalRole | None = None,
    is_active: bool | None = None,
) -> UserPage:
    """All accounts, by email. Admins only."""
    return service.list_users(session, page, role=role, is_active=is_active)


@router.get("/users/{user_id}", responses=problem_responses(401, 403, 404, 422))
def get_user(session: StatementSessionDep, user: AdminUser) -> UserPublic:
    return service.user_public(session, user)


@router.patch("/users/{user_id}", responses=problem_responses(401, 403, 404, 422))
def update_user(session: SessionDep, user: AdminUser, body: UserUpdate) -> UserPublic:
    """Change role or name, or deactivate (`is_active: false`). Admins only. Accounts are
    made by invitation (`POST /v1/invitations`) or sign-up; passwords are only ever chosen
    by their owner (`POST /v1/users/{id}/password-reset` sends them a link)."""
    return service.user_public(session, service.update_user(session, user, body.changes()))


@router.post(
    "/users/{user_id}/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 422),
)
def reset_users_password(session: SessionDep, user: AdminUser) -> Accepted:
    """Make the account's password stop working, end its tokens, and email its owner a
    link to choose a new one. Admins only; the admin never chooses or sees the password."""
    self_service.admin_reset(session, user)
    return Accepted(detail=f"{user.display_name} has been emailed a link to a new password.")


# --- organisation members -----------------------------------------------------------------


@router.get(
    "/organisations/{organisation_id}/members", responses=problem_responses(401, 403, 404, 422)
)
def list_members(
    session: StatementSessionDep, organisation_id: ManagedOrganisationId, page: PageDep
) -> MemberPage:
    """People who can edit this organisation's listings."""
    return service.list_members(session, organisation_id, page)


@router.delete(
    "/organisations/{organisation_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def remove_member(
    session: SessionDep,
    principal: Authenticated,
    organisation_id: ManagedOrganisationId,
    user_id: Annotated[uuid.UUID, Path(description="The member's user id")],
) -> Response:
    """Remove someone from the organisation. The last organisation admin cannot be removed
    except by a Signpost admin."""
    service.remove_member(session, principal, organisation_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- API keys (admins) --------------------------------------------------------------------


@router.get("/api-keys", responses=problem_responses(401, 403, 422))
def list_api_keys(
    session: StatementSessionDep, _admin: AdminPrincipal, page: PageDep
) -> ApiKeyPage:
    """Keys with their prefixes and scopes, newest first; secrets are never shown again."""
    return service.list_api_keys(session, page)


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    dependencies=[Idempotent],
)
def create_api_key(session: SessionDep, admin: AdminPrincipal, body: ApiKeyCreate) -> ApiKeyCreated:
    """Create a key for a script or integration. The response holds the key: it is shown
    once and only its hash is kept. Send it as `X-API-Key`."""
    return service.create_api_key(session, admin, body)


@router.post("/api-keys/{key_id}/revoke", responses=problem_responses(401, 403, 404, 422))
def revoke_api_key(
    session: SessionDep,
    _admin: AdminPrincipal,
    key_id: Annotated[uuid.UUID, Path(description="The key's id")],
) -> ApiKeyPublic:
    """Revoke a key at once; later requests with it get 401."""
    return service.revoke_api_key(session, key_id)
