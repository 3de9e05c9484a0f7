"""The lexicon (every word in any listing) in memory, for correcting misspelt words in
``q``: loaded when a search first needs it and re-read at most every ``TTL_SECONDS``. A
word missing from this copy is asked of the table before it is treated as a typo, so a word
new since the copy was read is never mistaken for one."""

import threading
import time

from sqlmodel import Session, select

from app.search.models import SearchWord
from app.search.words import known_words

TTL_SECONDS = 300.0

_lock = threading.Lock()
_cached: tuple[float, frozenset[str]] | None = None
_combined: tuple[frozenset[str], frozenset[str], frozenset[str]] | None = None


def clear() -> None:
    global _cached, _combined
    with _lock:
        _cached = _combined = None


def words(session: Session) -> frozenset[str]:
    global _cached
    with _lock:
        cached = _cached
    if cached and time.monotonic() - cached[0] < TTL_SECONDS:
        return cached[1]
    loaded = frozenset(session.exec(select(SearchWord.word)))
    with _lock:
        _cached = (time.monotonic(), loaded)
    return loaded


def listed(session: Session, candidates: set[str]) -> frozenset[str]:
    """Those of ``candidates`` that some listing uses."""
    known = words(session)
    found = {word for word in candidates if word in known}
    unsure = candidates - found
    return frozenset(found | (known_words(session, unsure) if unsure else set()))


def with_vocabulary(session: Session, vocabulary: frozenset[str]) -> frozenset[str]:
    """The lexicon's words and ``vocabulary``'s together (kept while both are current)."""
    global _combined
    lexicon = words(session)
    held = _combined
    if held and held[0] is lexicon and held[1] is vocabulary:
        return held[2]
    combined = lexicon | vocabulary
    _combined = (lexicon, vocabulary, combined)
    return combined
