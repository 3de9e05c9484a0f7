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
_combined: dict[int, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {}


def clear() -> None:
    global _cached
    with _lock:
        _cached = None
        _combined.clear()


def words(session: Session) -> frozenset[str]:
    global _cached
    with _lock:
        cached = _cached
    if cached and time.monotonic() - cached[0] < TTL_SECONDS:
        return cached[1]
    loaded = frozenset(session.exec(select(SearchWord.word)))
    with _lock:
        _cached = (time.monotonic(), loaded)
        _combined.clear()
    return loaded


def listed(session: Session, candidates: set[str]) -> frozenset[str]:
    """Those of ``candidates`` that some listing uses."""
    known = words(session)
    found = {word for word in candidates if word in known}
    unsure = candidates - found
    return frozenset(found | (known_words(session, unsure) if unsure else set()))


def with_vocabulary(session: Session, vocabulary: frozenset[str]) -> frozenset[str]:
    """The lexicon's words and ``vocabulary``'s together (kept while both are current)."""
    lexicon = words(session)
    with _lock:
        held = _combined.get(id(vocabulary))
    if held and held[0] is lexicon and held[1] is vocabulary:
        return held[2]
    combined = lexicon | vocabulary
    with _lock:
        _combined.clear()
        _combined[id(vocabulary)] = (lexicon, vocabulary, combined)
    return combined
