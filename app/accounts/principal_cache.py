"""Who a credential belongs to, remembered for a few seconds, so a request that presents
the same API key or bearer token as the last one costs no database round trip to
authenticate.

Entries are keyed by a SHA-256 of the credential (the credential itself is not kept) and
live ``SIGNPOST_AUTH_CACHE_SECONDS`` (5). A commit that changes an API key, a user, a
membership or an organisation empties this process's cache at once; other worker processes
notice within those seconds. An entry never outlives the API key's own expiry.
"""

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.accounts.models import ApiKey, Membership, User
from app.accounts.principal import Principal
from app.core.config import get_settings
from app.core.types import utcnow
from app.organisations.models import Organisation
from app.teams.models import TeamMember

MAX_ENTRIES = 10_000
_WATCHED = (ApiKey, User, Membership, Organisation, TeamMember)


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    fresh_until: float  # time.monotonic()
    expires_at: datetime | None  # the credential's own expiry


class PrincipalCache:
    def __init__(self) -> None:
        self._entries: dict[bytes, _Entry] = {}
        self._lock = threading.Lock()

    def lookup(
        self,
        credential: str,
        load: Callable[[], tuple[Principal, datetime | None]],
    ) -> Principal:
        """The cached principal for ``credential``, else ``load()``'s (which raises for a
        bad credential; nothing is cached then)."""
        seconds = get_settings().auth_cache_seconds
        if seconds == 0:
            return load()[0]
        key = hashlib.sha256(credential.encode()).digest()
        if (remembered := self._fresh(key)) is not None:
            return remembered
        principal, expires_at = load()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = _Entry(principal, time.monotonic() + seconds, expires_at)
        return principal

    def remembered(self, credential: str) -> Principal | None:
        """The cached principal for ``credential`` if it is still fresh, else None (then
        ``lookup`` loads it): what a caller on the event loop can ask without any I/O."""
        if get_settings().auth_cache_seconds == 0:
            return None
        return self._fresh(hashlib.sha256(credential.encode()).digest())

    def _fresh(self, key: bytes) -> Principal | None:
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry.fresh_until > time.monotonic()
            and (entry.expires_at is None or entry.expires_at > utcnow())
        ):
            return entry.principal
        return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


principals = PrincipalCache()


# Written once every few minutes per key as it is used; says nothing about who it is.
_BOOKKEEPING = frozenset({"last_used_at"})


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context) -> None:
    added_or_removed = (*session.new, *session.deleted)
    if any(isinstance(instance, _WATCHED) for instance in added_or_removed) or any(
        isinstance(instance, _WATCHED) and _changed(instance) for instance in session.dirty
    ):
        session.info["credentials_changed"] = True


def _changed(instance) -> bool:
    changed = {attr.key for attr in inspect(instance).attrs if attr.history.has_changes()}
    return bool(changed - _BOOKKEEPING)


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    if session.info.pop("credentials_changed", False):
        principals.clear()


@event.listens_for(Session, "after_rollback")
def _keep_on_rollback(session: Session) -> None:
    session.info.pop("credentials_changed", None)
