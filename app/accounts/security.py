"""Passwords (argon2id), access tokens (HS256 JWT) and API key secrets."""

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.config import get_settings

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "signpost"
API_KEY_PREFIX = "sp_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(user_id: uuid.UUID, version: int = 0) -> tuple[str, int]:
    """A token for ``user_id``; ``version`` is the account's ``token_version`` (a password
    change raises it, which ends every token issued before)."""
    settings = get_settings()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "ver": version,
        "iat": now,
        "exp": now + lifetime,
        "iss": TOKEN_ISSUER,
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=TOKEN_ALGORITHM)
    return token, int(lifetime.total_seconds())


def decode_access_token(token: str) -> tuple[uuid.UUID, int] | None:
    """The user id and token version in a valid, unexpired token we signed; None for
    anything else."""
    try:
        claims = jwt.decode(
            token,
            get_settings().secret_key.get_secret_value(),
            algorithms=[TOKEN_ALGORITHM],  # never "none", never what the token says
            issuer=TOKEN_ISSUER,
            options={"require": ["sub", "ver", "exp", "iat", "iss"]},
        )
        version = claims["ver"]
        if not isinstance(version, int):
            return None
        return uuid.UUID(claims["sub"]), version
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


def new_api_key() -> tuple[str, str, str]:
    """Return (full key shown once, prefix kept in clear, hash of the secret)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{API_KEY_PREFIX}{prefix}_{secret}", prefix, hash_secret(secret)


def split_api_key(key: str) -> tuple[str, str] | None:
    if not key.startswith(API_KEY_PREFIX) or len(key) > 200:
        return None
    prefix, _, secret = key[len(API_KEY_PREFIX) :].partition("_")
    return (prefix, secret) if prefix and secret else None


def hash_secret(secret: str) -> str:
    # API key secrets are 256 random bits: a fast hash is enough, and lookups stay cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def throttle_key(kind: str, value: str) -> str:
    """Key sign-in counters by a keyed hash, so the table holds no emails or addresses."""
    digest = hmac.new(
        get_settings().secret_key.get_secret_value().encode(), value.lower().encode(), "sha256"
    )
    return f"{kind}:{digest.hexdigest()}"
