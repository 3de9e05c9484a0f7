"""The one clock Signpost's rules read (``app.core.types.utcnow``).

Tests move it forward to walk listings and assurance through time (the ``clock`` fixture in
tests/conftest.py); nothing in the application sets it. Access tokens keep real time
(app/accounts/security.py), so moving the clock never signs anybody out.
"""

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def travel(delta: timedelta) -> None:
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)
