import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from app.accounts.models import (
    ApiKey,
    GlobalRole,
    Membership,
    OrganisationRole,
    SignInThrottle,
    User,
)
from app.accounts.passwords import check_password
from app.accounts.principal import Principal
from app.accounts.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    MemberPublic,
    MembershipPublic,
    Token,
    UserCreate,
    UserPublic,
)
from app.accounts.security import (
    create_access_token,
    hash_password,
    new_api_key,
    throttle_key,
    verify_password,
)
from app.areas import service as area_service
from app.core.config import get_settings
from app.core.db import get_engine
from app.core.errors import (
    Conflict,
    Forbidden,
    InvalidField,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from app.core.pagination import Page, PageParams, make_page, paginate
from app.core.types import utcnow
from app.organisations.models import Organisation

SIGN_IN_REFUSED = "The email or password is wrong, or the account is not active"


# --- signing in ---------------------------------------------------------------------------


def sign_in(session: Session, email: str, password: str, address: str) -> Token:
    email = normalise_email(email)  # the lockout and the lookup key on the same value
    keys = {
        throttle_key("account", email): get_settings().signin_max_failures_per_account,
        throttle_key("address", address): get_settings().signin_max_failures_per_address,
    }
    _refuse_while_locked(session, keys)
    user = session.exec(select(User).where(User.email == email)).first()
    usable = user is not None and user.is_active
    if not verify_password(user.password_hash if usable else None, password):
        _record_failure(keys)
        raise Unauthorized(SIGN_IN_REFUSED)
    account_key = next(iter(keys))
    if (throttle := session.get(SignInThrottle, account_key)) is not None:
        session.delete(throttle)
    user.last_login_at = utcnow()
    session.add(user)
    token, lifetime = create_access_token(user.id, user.token_version)
    return Token(access_token=token, expires_in=lifetime)


def _refuse_while_locked(session: Session, keys: dict[str, int]) -> None:
    now = utcnow()
    for key in keys:
        throttle = session.get(SignInThrottle, key)
        if throttle and throttle.locked_until and throttle.locked_until > now:
            wait = int((throttle.locked_until - now).total_seconds()) + 1
            raise TooManyRequests("Too many failed sign-ins; try again later", wait)


def _record_failure(keys: dict[str, int]) -> None:
    """Count a failure in its own transaction: the request's one rolls back with the 401."""
    settings = get_settings()
    window = timedelta(minutes=settings.signin_lockout_minutes)
    now = utcnow()
    with Session(get_engine()) as session:
        for key, limit in keys.items():
            throttle = session.get(SignInThrottle, key, with_for_update=True)
            if throttle is None or now - throttle.window_started_at > window:
                throttle = throttle or SignInThrottle(key=key, window_started_at=now)
                throttle.failures, throttle.window_started_at = 0, now
                throttle.locked_until = None
            throttle.failures += 1
            if throttle.failures >= limit:
                throttle.locked_until = now + window
            session.add(throttle)
        session.commit()


def normalise_email(email: str) -> str:
    return email.strip().lower()


# --- users --------------------------------------------------------------------------------


def user_public(session: Session, user: User) -> UserPublic:
    return users_public(session, [user])[0]


def users_public(session: Session, users: list[User]) -> list[UserPublic]:
    """Users with their memberships, in one query for the memberships of all of them."""
    memberships: dict[uuid.UUID, list[MembershipPublic]] = {user.id: [] for user in users}
    if users:
        for membership, name in session.exec(
            select(Membership, Organisation.name)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Membership.user_id.in_(list(memberships)))
            .order_by(Membership.created_at)
        ):
            memberships[membership.user_id].append(
                MembershipPublic(
                    organisation_id=membership.organisation_id,
                    organisation_name=name,
                    role=membership.role,
                )
            )
    return [
        UserPublic.model_validate(
            {**user.model_dump(exclude={"password_hash"}), "memberships": memberships[user.id]}
        )
        for user in users
    ]


def create_user(session: Session, data: UserCreate) -> User:
    email = normalise_email(data.email)
    if session.exec(select(User.id).where(User.email == email)).first():
        raise Conflict("An account with this email already exists")
    check_password("body.password", data.password, email, data.display_name)
    user = User(
        email=email,
        display_name=data.display_name,
        password_hash=hash_password(data.password),
        role=data.role,
    )
    session.add(user)
    session.flush()
    return user


def list_users(
    session: Session,
    params: PageParams,
    role: GlobalRole | None = None,
    is_active: bool | None = None,
) -> Page[UserPublic]:
    statement = select(User).order_by(User.email)
    if role is not None:
        statement = statement.where(User.role == role)
    if is_active is not None:
        statement = statement.where(User.is_active == is_active)
    page = paginate(session, statement, params, lambda user: user)
    page.contents = users_public(session, page.contents)
    return page


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}")
    return user


def update_user(session: Session, user: User, changes: dict) -> User:
    if "area_ids" in changes:
        changes["area_ids"] = area_service.known_ids(session, changes["area_ids"] or [])
    stays_admin = changes.get("role", user.role) is GlobalRole.admin
    stays_active = changes.get("is_active", user.is_active)
    if user.role is GlobalRole.admin and user.is_active and not (stays_admin and stays_active):
        _refuse_losing_last_admin(session, user)
    user.sqlmodel_update(changes)
    session.add(user)
    session.flush()
    return user


def _refuse_losing_last_admin(session: Session, user: User) -> None:
    # Lock the admins' rows so two admins demoting each other cannot both succeed.
    admins = session.exec(
        select(User.id)
        .where(User.role == GlobalRole.admin, User.is_active.is_(True))
        .with_for_update()
    ).all()
    if set(admins) <= {user.id}:
        raise Conflict(
            "This is the last active admin; make someone else an admin first, "
            "so Signpost is never left without one"
        )


# --- organisation members -----------------------------------------------------------------


def list_members(session: Session, organisation_id: uuid.UUID, params: PageParams) -> Page:
    statement = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organisation_id == organisation_id)
        .order_by(User.display_name, User.id)
    )
    total = session.exec(
        select(func.count()).where(Membership.organisation_id == organisation_id)
    ).one()
    rows = session.exec(statement.offset(params.offset).limit(params.per_page)).all()
    members = [
        MemberPublic(
            user_id=user.id,
            display_name=user.display_name,
            email=user.email,
            role=membership.role,
            created_at=membership.created_at,
        )
        for membership, user in rows
    ]
    return make_page(members, total, params)


def add_member(
    session: Session, organisation_id: uuid.UUID, email: str, role: OrganisationRole
) -> MemberPublic:
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None or not user.is_active:
        raise InvalidField(
            "body.email", "no active account has this email; ask an admin to create one"
        )
    existing = session.exec(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == organisation_id
        )
    ).first()
    if existing is not None:
        raise Conflict(f"This person is already a member ({existing.role.value})")
    membership = Membership(user_id=user.id, organisation_id=organisation_id, role=role)
    session.add(membership)
    session.flush()
    return MemberPublic(
        user_id=user.id,
        display_name=user.display_name,
        email=user.email,
        role=role,
        created_at=membership.created_at,
    )


def remove_member(
    session: Session, principal: Principal, organisation_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    membership = session.exec(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organisation_id == organisation_id
        )
    ).first()
    if membership is None:
        raise NotFound("This person is not a member of the organisation")
    if membership.role is OrganisationRole.admin and not principal.is_admin:
        _refuse_losing_last_org_admin(session, organisation_id)
    session.delete(membership)
    session.flush()


def _refuse_losing_last_org_admin(session: Session, organisation_id: uuid.UUID) -> None:
    admins = session.exec(
        select(func.count()).where(
            Membership.organisation_id == organisation_id,
            Membership.role == OrganisationRole.admin,
        )
    ).one()
    if admins <= 1:
        raise Conflict("The organisation would have no admin left; add another admin first")


def grant_membership(
    session: Session, user_id: uuid.UUID, organisation_id: uuid.UUID, role: OrganisationRole
) -> None:
    """Give ``user_id`` ``role`` in the organisation, replacing any role they had there."""
    membership = session.exec(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organisation_id == organisation_id
        )
    ).first() or Membership(user_id=user_id, organisation_id=organisation_id)
    membership.role = role
    session.add(membership)


def add_creator_as_admin(session: Session, principal: Principal, organisation_id: uuid.UUID):
    """Whoever registers an organisation (and is not a steward or admin) becomes its admin."""
    if principal.kind == "user" and not principal.is_steward_or_admin:
        session.add(
            Membership(
                user_id=principal.id, organisation_id=organisation_id, role=OrganisationRole.admin
            )
        )
        session.flush()


# --- API keys -----------------------------------------------------------------------------


def create_api_key(session: Session, principal: Principal, data: ApiKeyCreate) -> ApiKeyCreated:
    key, prefix, secret_hash = new_api_key()
    api_key = ApiKey(
        **data.model_dump(exclude={"area_ids"}),
        area_ids=area_service.known_ids(session, data.area_ids),
        prefix=prefix,
        secret_hash=secret_hash,
        created_by_id=principal.id if principal.kind == "user" else None,
    )
    session.add(api_key)
    session.flush()
    return ApiKeyCreated.model_validate({**api_key.model_dump(), "key": key})


def list_api_keys(session: Session, params: PageParams) -> Page[ApiKeyPublic]:
    statement = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)
    return paginate(session, statement, params, ApiKeyPublic.model_validate)


def revoke_api_key(session: Session, key_id: uuid.UUID) -> ApiKey:
    api_key = session.get(ApiKey, key_id)
    if api_key is None:
        raise NotFound(f"No API key with id {key_id}")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        session.add(api_key)
        session.flush()
    return api_key


# --- the person themselves ------------------------------------------------------------------


def leave_organisation(session: Session, principal: Principal, organisation_id: uuid.UUID):
    """Leave an organisation; its last admin stays until another admin is added."""
    if principal.kind != "user" or organisation_id not in principal.memberships:
        raise NotFound("You are not a member of this organisation")
    remove_member(session, principal, organisation_id, principal.id)


def delete_own_account(session: Session, principal: Principal) -> None:
    """Erase the person: their name and email go, the account can never sign in again,
    their memberships end; what they did stays in the audit log under their id."""
    user = session.get(User, principal.id) if principal.kind == "user" else None
    if user is None:
        raise Forbidden("API keys are revoked, not deleted by themselves")
    if user.role is GlobalRole.admin:
        _refuse_losing_last_admin(session, user)
    for organisation_id, role in principal.memberships.items():
        if role is OrganisationRole.admin:
            _refuse_losing_last_org_admin(session, organisation_id)
    for membership in session.exec(select(Membership).where(Membership.user_id == user.id)):
        session.delete(membership)
    user.email = f"deleted-{user.id.hex}@deleted.invalid"
    user.display_name = "Deleted user"
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.is_active, user.role = False, None
    user.awaiting_verification = False
    user.token_version += 1
    session.add(user)
    session.flush()


def named_memberships(session: Session, principal: Principal) -> list[tuple]:
    """An API key's organisation scope, with the organisation's name."""
    if not principal.memberships:
        return []
    names = dict(
        session.exec(
            select(Organisation.id, Organisation.name).where(
                Organisation.id.in_(list(principal.memberships))
            )
        ).all()
    )
    return [(org, names.get(org, ""), role) for org, role in principal.memberships.items()]
