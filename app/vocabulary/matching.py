"""Understanding what a link worker typed: "lonley", "no friends since her husband died",
"needs to get active" -> vocabulary terms, with the corrections made along the way.

In order, cheapest and surest first:
1. the exact id, code, name or synonym;
2. every name or synonym found word for word inside the text, longest first ("feeling low
   and lonely" is low mood and social isolation);
3. the same after correcting each word to the nearest vocabulary word within a small edit
   distance (rapidfuzz's optimal string alignment: a transposed pair counts as one edit);
4. the same with simple English endings taken off ("walks", "walking" -> "walk").
Nothing found: ``suggest`` offers the closest terms instead.
"""

import uuid
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from app.search.words import normalise
from app.vocabulary.snapshot import Snapshot

# Words that carry no need on their own: they may be part of a phrase ("no friends",
# "get out more") but never match alone, and are never corrected.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "after",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "bit",
        "but",
        "by",
        "can",
        "cannot",
        "cant",
        "could",
        "did",
        "do",
        "does",
        "doesnt",
        "dont",
        "for",
        "from",
        "get",
        "gets",
        "getting",
        "go",
        "going",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "him",
        "his",
        "how",
        "i",
        "im",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "like",
        "lot",
        "lots",
        "me",
        "more",
        "much",
        "my",
        "need",
        "needed",
        "needs",
        "not",
        "of",
        "off",
        "on",
        "or",
        "our",
        "out",
        "over",
        "patient",
        "person",
        "client",
        "really",
        "she",
        "so",
        "some",
        "someone",
        "something",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "they",
        "this",
        "to",
        "too",
        "up",
        "us",
        "very",
        "want",
        "wants",
        "was",
        "we",
        "were",
        "what",
        "when",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "feel",
        "feels",
        "feeling",
        "felt",
        "help",
        "helps",
        "support",
    ]
)
# What a need or a q is read against: needs first, then activity categories.
NEED_SCHEMES = ("need", "activity-category")
LONGEST_PHRASE = 6
MIN_CORRECTABLE = 4


@dataclass
class Understood:
    """What part of the text named which terms, and the corrections that made it so."""

    ids: set[uuid.UUID] = field(default_factory=set)
    spans: list[tuple[str, set[uuid.UUID]]] = field(default_factory=list)  # words -> ids
    corrections: list[tuple[str, str]] = field(default_factory=list)  # (typed, read as)
    words: list[str] = field(default_factory=list)  # the text's words, corrected


def understand(snap: Snapshot, schemes: tuple[str, ...], value: str) -> Understood:
    """Terms of ``schemes`` that ``value`` names, by the steps in the module docstring."""
    for scheme in schemes:
        exact = snap.find(scheme, value)
        if exact:
            return Understood(ids=exact, spans=[(normalise(value) or value, exact)])
    words = normalise(value).split()
    found = spot(snap, schemes, words)
    if found.ids:
        return found
    corrected, corrections = correct(vocabulary_words(snap, schemes), words)
    if corrections:
        found = spot(snap, schemes, corrected)
        if found.ids:
            found.corrections = corrections
            return found
    stemmed = [_stem(word) for word in corrected]
    found = spot(snap, schemes, stemmed, stems=True)
    if found.ids:
        found.corrections = corrections
        found.words = corrected
    return found


def spot(
    snap: Snapshot, schemes: tuple[str, ...], words: list[str], stems: bool = False
) -> Understood:
    """Every name or synonym that occurs word for word in ``words``, longest first, no two
    overlapping; a lone stopword never counts."""
    found = Understood(words=list(words))
    taken = [False] * len(words)
    for size in range(min(LONGEST_PHRASE, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            if any(taken[start : start + size]):
                continue
            piece = words[start : start + size]
            if size == 1 and piece[0] in STOPWORDS:
                continue
            phrase = " ".join(piece)
            ids: set[uuid.UUID] = set()
            for scheme in schemes:
                table = _stemmed_phrases(snap, scheme) if stems else snap.phrases[scheme]
                ids |= table.get(phrase, set())
            if ids:
                taken[start : start + size] = [True] * size
                found.ids |= ids
                found.spans.append((phrase, ids))
    return found


def correct(known: frozenset[str], words: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Each word not in ``known`` replaced by the nearest word that is, when one lies
    within one edit (two for words of eight letters or more)."""
    corrected, corrections = [], []
    for word in words:
        better = nearest(known, word)
        if better and better != word:
            corrections.append((word, better))
            corrected.append(better)
        else:
            corrected.append(word)
    return corrected, corrections


def nearest_possible(word: str) -> bool:
    """Whether ``word`` is one that ``nearest`` would try to correct."""
    return word not in STOPWORDS and len(word) >= MIN_CORRECTABLE and word.isalpha()


def nearest(known: frozenset[str], word: str) -> str | None:
    if word in known or not nearest_possible(word):
        return None
    limit = 2 if len(word) >= 8 else 1
    choices = process.extract(word, known, scorer=OSA.distance, score_cutoff=limit, limit=20)
    if not choices:
        return None
    # Fewest edits; then the same first letter (people rarely mistype it); then the
    # closest length; then alphabetical, so the answer never depends on order.
    best = min(
        choices,
        key=lambda c: (c[1], c[0][0] != word[0], abs(len(c[0]) - len(word)), c[0]),
    )
    return best[0]


def vocabulary_words(snap: Snapshot, schemes: tuple[str, ...]) -> frozenset[str]:
    return _words_of(snap, schemes)


@lru_cache(maxsize=32)
def _words_of(snap: Snapshot, schemes: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        word for scheme in schemes for phrase in snap.phrases[scheme] for word in phrase.split()
    )


@lru_cache(maxsize=32)
def _stemmed_phrases(snap: Snapshot, scheme: str) -> dict[str, set[uuid.UUID]]:
    table: dict[str, set[uuid.UUID]] = {}
    for phrase, ids in snap.phrases[scheme].items():
        table.setdefault(" ".join(_stem(word) for word in phrase.split()), set()).update(ids)
    return table


_ENDINGS = ("iness", "ness", "ing", "ies", "ied", "ed", "es", "ly", "s")


def _stem(word: str) -> str:
    """A light, predictable stemmer: enough that "walks", "walking" and "walk" meet."""
    for ending in _ENDINGS:
        if len(word) - len(ending) >= 3 and word.endswith(ending):
            word = word[: -len(ending)]
            break
    return word.removesuffix("e") if len(word) > 3 else word


def suggest(
    snap: Snapshot, schemes: tuple[str, ...], value: str, limit: int = 3
) -> list[uuid.UUID]:
    """The terms whose names or synonyms look most like ``value``, best first."""
    text = normalise(value)
    if not text:
        return []
    scored: dict[uuid.UUID, float] = {}
    for scheme in schemes:
        phrases = snap.phrases[scheme]
        for phrase, score, _ in process.extract(
            text, list(phrases), scorer=fuzz.WRatio, score_cutoff=50, limit=limit * 4
        ):
            for term_id in phrases[phrase]:
                scored[term_id] = max(scored.get(term_id, 0.0), score)
    ranked = sorted(scored, key=lambda t: (-scored[t], snap.names[t]))
    return ranked[:limit]
