"""What people do for themselves: sign up and confirm their address, change a forgotten or
known password; and an admin's reset, which sends the link and never sees a password.

Answers never tell whether an email has an account: sign-up and "forgot password" say the
same, take about the same time (a password is always hashed), and the emails differ
instead. Each is counted per address and per email like failed sign-ins (429 past it)."""

import secrets

from sqlmodel import Session, select

from app.accounts import links
from app.accounts.models import User
from app.accounts.passwords import check_password
from app.accounts.principal import Principal
from app.accounts.schemas import PasswordChange, SignUp, Token
from app.accounts.security import create_access_token, hash_password, throttle_key, verify_password
from app.accounts.service import _record_failure, _refuse_while_locked, normalise_email
from app.core.config import get_settings
from app.core.errors import Forbidden, InvalidField
from app.core.types import utcnow
from app.notifications.events import EventType, emit

ACCEPTED = "If this address can be used, an email is on its way to it with what to do next."


def _count(session: Session, kind: str, email: str, address: str) -> None:
    settings = get_settings()
    keys = {
        throttle_key(f"{kind}-account", email): settings.signin_max_failures_per_account,
        throttle_key(f"{kind}-address", address): settings.signin_max_failures_per_address,
    }
    _refuse_while_locked(session, keys)
    _record_failure(keys)


def _tell(session: Session, kind: EventType, user: User) -> None:
    emit(session, kind, organisation_id=None, subject_id=user.id, user_id=user.id)


def sign_up(session: Session, data: SignUp, address: str) -> None:
    email = normalise_email(data.email)
    _count(session, "sign-up", email, address)
    check_password("body.password", data.password, email, data.display_name)
    password_hash = hash_password(data.password)  # always: the same time either way
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = User(
            email=email,
            display_name=data.display_name,
            password_hash=password_hash,
            is_active=False,
            awaiting_verification=True,
        )
        session.add(user)
        session.flush()
        _tell(session, EventType.account_verify_email, user)
    elif user.awaiting_verification:
        # Signing up again before confirming: the latest details count, older links die.
        user.display_name, user.password_hash = data.display_name, password_hash
        user.token_version += 1
        session.add(user)
        _tell(session, EventType.account_verify_email, user)
    else:
        _tell(session, EventType.account_sign_up_attempt, user)


def verify_email(session: Session, token: str) -> Token:
    user = links.use(session, "verify_email", token)
    if not user.awaiting_verification:
        raise links.LinkRefused("This link is not valid, has expired or was already used")
    now = utcnow()
    user.awaiting_verification, user.is_active = False, True
    user.email_verified_at = user.last_login_at = now
    session.add(user)
    return _token(user)


def forgot_password(session: Session, email: str, address: str) -> None:
    email = normalise_email(email)
    _count(session, "forgot", email, address)
    user = session.exec(select(User).where(User.email == email)).first()
    if user is not None and user.is_active:
        _tell(session, EventType.account_password_reset, user)


def reset_password(session: Session, token: str, password: str) -> None:
    user = links.use(session, "reset_password", token)
    if not user.is_active:
        raise links.LinkRefused("This link is not valid, has expired or was already used")
    _set_password(user, password)
    session.add(user)


def change_password(session: Session, principal: Principal, body: PasswordChange) -> Token:
    user = session.get(User, principal.id) if principal.kind == "user" else None
    if user is None:
        raise Forbidden("Only people have passwords; API keys are revoked and created anew")
    keys = {throttle_key("account", user.email): get_settings().signin_max_failures_per_account}
    _refuse_while_locked(session, keys)
    if not verify_password(user.password_hash, body.current_password):
        _record_failure(keys)  # counted with failed sign-ins: no guessing through here
        raise InvalidField(
            "body.current_password", "is not your current password", "wrong_password"
        )
    _set_password(user, body.password)
    session.add(user)
    return _token(user)


def admin_reset(session: Session, user: User) -> None:
    """The account's password stops working, every token ends, and its owner is emailed a
    link to choose a new one. The admin never chooses or sees it."""
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.token_version += 1
    session.add(user)
    _tell(session, EventType.account_password_reset, user)


def _set_password(user: User, password: str) -> None:
    check_password("body.password", password, user.email, user.display_name)
    user.password_hash = hash_password(password)
    user.token_version += 1  # ends every token and link issued before


def _token(user: User) -> Token:
    token, lifetime = create_access_token(user.id, user.token_version)
    return Token(access_token=token, expires_in=lifetime)
