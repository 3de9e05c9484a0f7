"""Encryption at rest for the little personal data Signpost keeps (referral contact details
and notes).

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``). ``SIGNPOST_DATA_KEYS`` lists
keys newest first, comma-separated: new data is encrypted with the first, any listed key
decrypts, and ``signpost rotate-data-key`` re-encrypts what is stored under the first, after
which an old key can be dropped from the list.
"""

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from app.core.config import get_settings

__all__ = ["InvalidToken", "decrypt", "encrypt", "new_key", "rotate"]


def new_key() -> str:
    return Fernet.generate_key().decode()


@lru_cache
def _keys() -> MultiFernet:
    settings = get_settings()
    if settings.data_keys is not None:
        keys = [k.strip() for k in settings.data_keys.get_secret_value().split(",") if k.strip()]
    else:
        # Development and tests only (production refuses to start without data keys).
        digest = hashlib.sha256(
            b"signpost-data-key:" + settings.secret_key.get_secret_value().encode()
        )
        keys = [base64.urlsafe_b64encode(digest.digest()).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(data: dict[str, Any]) -> str:
    return _keys().encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    return json.loads(_keys().decrypt(token.encode()))


def rotate(token: str) -> str:
    """The same data encrypted under the newest key."""
    return _keys().rotate(token.encode()).decode()


def clear() -> None:
    """Forget the loaded keys (after the settings change, e.g. in tests)."""
    _keys.cache_clear()
