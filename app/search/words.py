"""Words as people type them: one normal form for matching, the lexicon of indexed words,
and the scrubbing that makes unmatched search words safe to keep."""

import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import insert, select
from sqlmodel import Session

from app.search.models import SearchWord

LEXICON_WORD = re.compile(r"[a-z]{3,32}")
_APOSTROPHES = re.compile(r"['`]")  # curly ones are gone with the other non-ASCII
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> str:
    """Lower case, accents and apostrophes dropped, anything else between words a single
    space: "Can't  afford FOOD!" and "cant afford food" are one phrase."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_WORD.sub(" ", _APOSTROPHES.sub("", folded.lower())).strip()


def lexicon_words(text: str) -> set[str]:
    return set(LEXICON_WORD.findall(normalise(text)))


def add_to_lexicon(session: Session, words: Iterable[str]) -> None:
    """Add the words the lexicon lacks (a word is never removed here: ``reindex-search``
    rebuilds the lexicon from scratch)."""
    wanted = sorted(set(words))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        known = set(session.scalars(select(SearchWord.word).where(SearchWord.word.in_(chunk))))
        new = [{"word": word} for word in chunk if word not in known]
        if new:
            session.execute(insert(SearchWord), new)


def known_words(session: Session, words: Iterable[str]) -> set[str]:
    wanted = list(set(words))
    if not wanted:
        return set()
    return set(session.scalars(select(SearchWord.word).where(SearchWord.word.in_(wanted))))


# --- scrubbing what the search log keeps ---------------------------------------------------

MAX_WORDS = 6
MAX_CHARS = 60
_EMAIL = re.compile(r"\S+@\S+")
_POSTCODE = re.compile(r"\b[a-z]{1,2}[0-9][a-z0-9]?\s*[0-9][a-z]{2}\b", re.IGNORECASE)
# A title and the name after it ("Mrs Patel"): names in general cannot be spotted, which is
# why the report shows a phrase only once five separate searches have used it.
_TITLED_NAME = re.compile(r"\b(?:mr|mrs|ms|miss|mx|dr|prof)\b\.?\s*\S*", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)


def scrub(text: str) -> str | None:
    """The words of an unmatched search that are safe to keep for the unmet-demand report,
    or None. Anything that could point at a person goes: emails, web addresses, postcodes
    (outcodes have digits), a title and the name after it, and every word with a digit (so
    phone, NHS and house numbers and dates too); then
    words are normalised and capped in number and length."""
    for pattern in (_URL, _EMAIL, _POSTCODE, _TITLED_NAME):
        text = pattern.sub(" ", text)
    words = [
        word
        for word in normalise(text).split()
        if not any(ch.isdigit() for ch in word) and len(word) <= 20
    ]
    kept = " ".join(words[:MAX_WORDS])[:MAX_CHARS].strip()
    return kept or None
