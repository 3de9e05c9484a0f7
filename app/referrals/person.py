"""Finding a person's referrals by the reference their link worker gave them, without
decrypting every row: each referral keeps a keyed hash (HMAC-SHA256 under a key derived
from SIGNPOST_SECRET_KEY) of the reference, normalised so "lw 2291" finds "LW-2291"."""

import hashlib
import hmac
import re

from app.core.config import get_settings

_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def normalise(reference: str) -> str:
    return _NOT_ALNUM.sub("", reference.casefold())


def reference_hash(reference: str) -> str:
    secret = get_settings().secret_key.get_secret_value().encode()
    key = hashlib.sha256(b"signpost person reference\0" + secret).digest()
    return hmac.new(key, normalise(reference).encode(), hashlib.sha256).hexdigest()


def backfill(session) -> int:
    """Hash the reference of every referral that still holds personal data and has no
    hash yet (those sent before migration 0015); returns how many."""
    from sqlmodel import select

    from app.core import crypto
    from app.referrals.models import Referral

    missing = session.exec(
        select(Referral).where(
            Referral.person_ref_hash.is_(None), Referral.personal_data.is_not(None)
        )
    ).all()
    for referral in missing:
        referral.person_ref_hash = reference_hash(
            crypto.decrypt(referral.personal_data)["person_reference"]
        )
        session.add(referral)
    session.flush()
    return len(missing)
