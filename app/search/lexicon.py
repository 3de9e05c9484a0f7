"""The lexicon (every word in any listing) in memory, for correcting misspelt words in
``q``. It is read only when a search has a word that is in neither the vocabulary nor the
lexicon table, and re-read at most every ``TTL_SECONDS``: a word new since then can only be
missed as a correction, never mistaken for a typo (``known_words`` asks the table)."""

import threading
import time

from sqlmodel import Session, select

from app.search.models import SearchWord

TTL_SECONDS = 300.0

_lock = threading.Lock()
_cached: tuple[float, frozenset[str], frozenset[str], frozenset[str]] | None = None


def clear() -> None:
    global _cached
    with _lock:
        _cached = None


def with_vocabulary(session: Session, vocabulary: frozenset[str]) -> frozenset[str]:
    """The lexicon's words and ``vocabulary``'s together."""
    global _cached
    with _lock:
        cached = _cached
    if cached and time.monotonic() - cached[0] < TTL_SECONDS and cached[1] is vocabulary:
        return cached[3]
    if cached and time.monotonic() - cached[0] < TTL_SECONDS:
        words = cached[2]
    else:
        words = frozenset(session.exec(select(SearchWord.word)))
    combined = words | vocabulary
    with _lock:
        _cached = (
            cached[0] if cached and words is cached[2] else time.monotonic(),
            vocabulary,
            words,
            combined,
        )
    return combined
