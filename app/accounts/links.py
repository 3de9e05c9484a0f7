"""Single-use links emailed to a person about their own account: confirming the address
after sign-up, and choosing a new password. Signed JWTs naming their purpose, the account
and its ``token_version`` (so any password change voids links sent before it), used once
(``used_token``), expiring by Signpost's clock."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
from sqlmodel import Session

from app.accounts.models import User
from app.core.config import get_settings
from app.core.db import insert_once
from app.core.errors import Problem
from app.core.types import utcnow
from app.notifications.models import UsedToken

Purpose = Literal["verify_email", "reset_password"]
LIFETIMES: dict[str, timedelta] = {
    "verify_email": timedelta(hours=48),
    "reset_password": timedelta(hours=1),
}


class LinkRefused(Problem):
    status, slug, title = 400, "invalid-link", "This link cannot be used"


def make(purpose: Purpose, user: User, now: datetime) -> str:
    claims = {
        "purpose": purpose,
        "sub": str(user.id),
        "ver": user.token_version,
        "jti": uuid.uuid4().hex,
        "exp": int((now + LIFETIMES[purpose]).timestamp()),
    }
    return jwt.encode(claims, get_settings().secret_key.get_secret_value(), algorithm="HS256")


def use(session: Session, purpose: Purpose, token: str) -> User:
    """The account the link is for, once: expired, used, forged, superseded (the password
    changed since) and other-purpose links are all refused alike."""
    refused = LinkRefused("This link is not valid, has expired or was already used")
    try:
        claims = jwt.decode(
            token,
            get_settings().secret_key.get_secret_value(),
            algorithms=["HS256"],
            options={"require": ["purpose", "sub", "ver", "jti", "exp"], "verify_exp": False},
        )
        user_id = uuid.UUID(str(claims["sub"]))
        expires = datetime.fromtimestamp(float(claims["exp"]), UTC)
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
        raise refused from None
    if claims["purpose"] != purpose or expires <= utcnow() or not isinstance(claims["jti"], str):
        raise refused
    user = session.get(User, user_id)
    if user is None or user.token_version != claims["ver"]:
        raise refused
    if not insert_once(
        session, UsedToken.__table__, {"jti": claims["jti"][:64], "expires_at": expires}, ["jti"]
    ):
        raise refused
    return user
