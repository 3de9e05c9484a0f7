"""Signed single-purpose links (email verification, password reset, invitations, "still
accurate"): one way to sign them and one way to read them back.

A link is an HS256 JWT under ``SIGNPOST_SECRET_KEY`` naming its ``purpose``, its subject
(``sub``, a UUID) and when it expires. Expiry is checked by the caller against Signpost's
own clock (``app.core.clock``), not PyJWT's, so tests and sweeps that move the clock see
links expire when users would; each caller also says what an expired or spent link means
to the person holding it.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from app.core.config import get_settings

ALGORITHM = "HS256"


@dataclass(frozen=True)
class Link:
    subject: uuid.UUID
    expires: datetime
    claims: dict[str, Any]


def sign(purpose: str, subject: uuid.UUID, expires: datetime, **claims: Any) -> str:
    body = {"purpose": purpose, "sub": str(subject), "exp": int(expires.timestamp()), **claims}
    return jwt.encode(body, get_settings().secret_key.get_secret_value(), algorithm=ALGORITHM)


def read(token: str, purpose: str, require: tuple[str, ...] = ()) -> Link | None:
    """The link, if Signpost signed it for ``purpose`` with the claims ``require`` names;
    None for anything forged, malformed or meant for something else. Expired links are
    returned: ``expires`` says when."""
    try:
        claims = jwt.decode(
            token,
            get_settings().secret_key.get_secret_value(),
            algorithms=[ALGORITHM],
            options={
                "require": ["purpose", "sub", "exp", *require],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
        subject = uuid.UUID(str(claims["sub"]))
        expires = datetime.fromtimestamp(float(claims["exp"]), UTC)
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):
        return None
    if claims["purpose"] != purpose:
        return None
    if "jti" in require and not isinstance(claims["jti"], str):
        return None
    return Link(subject, expires, claims)
