"""Single-use links emailed to a person about their own account: confirming the address
after sign-up, and choosing a new password. Signed JWTs naming their purpose, the account
and its ``token_version`` (so any password change voids links sent before it), used once
(``used_token``), expiring by Signpost's clock."""

import uuid
from datetime import datetime, timedelta
from typing import Literal

from sqlmodel import Session

from app.accounts.models import User
from app.core import links as signed_links
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
    return signed_links.sign(
        purpose, user.id, now + LIFETIMES[purpose], ver=user.token_version, jti=uuid.uuid4().hex
    )


def use(session: Session, purpose: Purpose, token: str) -> User:
    """The account the link is for, once: expired, used, forged, superseded (the password
    changed since) and other-purpose links are all refused alike."""
    refused = LinkRefused("This link is not valid, has expired or was already used")
    link = signed_links.read(token, purpose, require=("ver", "jti"))
    if link is None or link.expires <= utcnow():
        raise refused
    user = session.get(User, link.subject)
    if user is None or user.token_version != link.claims["ver"]:
        raise refused
    used = {"jti": link.claims["jti"][:64], "expires_at": link.expires}
    if not insert_once(session, UsedToken.__table__, used, ["jti"]):
        raise refused
    return user
