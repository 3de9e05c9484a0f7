"""Understanding what a link worker typed: "lonley", "no friends since her husband died",
"needs to get active" -> vocabulary terms, with the corrections made along the way.

In order, cheapest and surest first:
1. the exact id, code, name or synonym;
2. every name or synonym found word for word inside the text, longest first ("feeling low
   and lonely" is low mood and social isolation);
3. the same after correcting each word to the nearest vocabulary word within a small edit
   distance (rapidfuzz's optimal string alignment: a transposed pair counts as one edit);
4. the same with simple English endings taken off ("walks", "walking" -> "walk");
5. the phrases all of whose meaningful words occur in the text, in any order ("mood is
   low" is "low mood"; "doesn't do any exercise" holds "exercise");
6. a meaningful word that only one term's phrases use ("postnatal").
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
# Words that say who or when rather than what: skipped when matching by meaningful words.
FILLER = STOPWORDS | frozenset(
    [
        "own",
        "new",
        "one",
        "time",
        "things",
        "thing",
        "anyone",
        "anything",
        "everything",
        "always",
        "all",
        "still",
        "since",
        "last",
        "year",
        "years",
        "week",
        "weeks",
        "day",
        "days",
        "month",
        "months",
        "recently",
        "lately",
        "now",
    ]
)
LONGEST_PHRASE = 6
MIN_CORRECTABLE = 3
MIN_DISTINCTIVE = 5


@dataclass
class Understood:
    """What part of the text named which terms, and the corrections that made it so."""

    ids: set[uuid.UUID] = field(default_factory=set)
    spans: list[tuple[str, set[uuid.UUID]]] = field(default_factory=list)  # words -> ids
    corrections: list[tuple[str, str]] = field(default_factory=list)  # (typed, read as)
    words: list[str] = field(default_factory=list)  # the text's words, corrected
    reach: int = 0  # how many of the text's words the spans account for


def understand(
    snap: Snapshot, schemes: tuple[str, ...], value: str, keep: frozenset[str] = frozenset()
) -> Understood:
    """Terms of ``schemes`` that ``value`` names, by the steps in the module docstring;
    words in ``keep`` are known words and never corrected. ``words`` of the answer is the
    text as read (corrected)."""
    words = normalise(value).split()
    for scheme in schemes:
        exact = snap.find(scheme, value)
        if exact:
            return Understood(ids=exact, spans=[(normalise(value) or value, exact)], words=words)
    found = spot(snap, schemes, words)
    corrected, corrections = _best_reading(snap, schemes, words, keep)
    if corrections:
        # "mrmory loss": read as typed it says "loss"; corrected, "memory loss" says more.
        better = spot(snap, schemes, corrected)
        if better.ids and better.reach > found.reach:
            better.corrections = corrections
            found = better
    if not found.ids:
        stemmed = [_stem(word) for word in corrected]
        for attempt in (
            spot(snap, schemes, stemmed, stems=True),
            _by_content(snap, schemes, stemmed),
            # a short word corrected just to fit here is a guess on a guess ("freak" is
            # one edit from "break"); six letters or more, one edit away, is a typo
            _by_distinctive_word(
                snap,
                schemes,
                [
                    _stem(read if len(typed) >= 6 else typed)
                    for typed, read in zip(words, corrected, strict=True)
                ],
            ),
        ):
            if attempt.ids:
                attempt.corrections = corrections
                found = attempt
                break
    found.words = corrected if found.corrections else words
    return found


def _best_reading(
    snap: Snapshot, schemes: tuple[str, ...], words: list[str], keep: frozenset[str]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Correct each unknown word; where several words are equally near ("interent":
    interest or internet), keep the one that lets more of the text name terms."""
    known = vocabulary_words(snap, schemes)
    reading = list(words)
    for index, word in enumerate(words):
        options = [] if word in keep else candidates(known, word)[:5]
        if not options:
            continue
        reach = {
            option: _reach(snap, schemes, [*reading[:index], option, *reading[index + 1 :]])
            for option in options
        }
        best = max(options, key=lambda option: reach[option])
        # a three-letter word is only corrected when that makes more of the text name terms
        if len(word) >= 4 or reach[best] > _reach(snap, schemes, reading):
            reading[index] = best
    corrections = [(a, b) for a, b in zip(words, reading, strict=True) if a != b]
    return reading, corrections


def _reach(snap: Snapshot, schemes: tuple[str, ...], words: list[str]) -> tuple[int, int]:
    """How much of ``words`` names terms: words covered, then fewer (so longer) phrases;
    phrase by phrase, or failing that by meaningful words ("mood is low": low mood)."""
    found = spot(snap, schemes, words)
    if found.ids:
        return found.reach, 1, -len(found.spans)
    return _by_content(snap, schemes, [_stem(word) for word in words]).reach, 0, 0


def _by_content(snap: Snapshot, schemes: tuple[str, ...], stemmed: list[str]) -> Understood:
    """The last resort: the phrases all of whose meaningful words occur somewhere in the
    text ("doesn't do any exercise" holds "exercise" of "more exercise"), taking those with
    the most such words."""
    content = {word for word in stemmed if word not in FILLER}
    found = Understood(words=list(stemmed))
    best = 0
    for scheme in schemes:
        for phrase, needed in _content_of(snap, scheme).items():
            if needed and needed <= content and len(needed) >= best:
                if len(needed) > best:
                    best, found.ids, found.spans = len(needed), set(), []
                ids = snap.phrases[scheme].get(phrase, set())
                found.ids |= ids
                found.spans.append((phrase, ids))
    found.reach = best
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
                found.reach += size
    return found


def nearest_possible(word: str) -> bool:
    """Whether ``word`` is one that ``nearest`` would try to correct."""
    return word not in STOPWORDS and len(word) >= MIN_CORRECTABLE and word.isalpha()


def nearest(known: frozenset[str], word: str) -> str | None:
    """The likeliest correction; for a three-letter word only an unambiguous one."""
    found = candidates(known, word)
    if len(word) < 4 and len(found) != 1:
        return None
    return found[0] if found else None


def candidates(known: frozenset[str], word: str) -> list[str]:
    """The known words fewest edits from ``word``, most likely first: the same first letter
    (people rarely mistype it), then the closest length, then alphabetical."""
    if word in known or not nearest_possible(word):
        return []
    limit = 2 if len(word) >= 8 else 1
    choices = [
        (choice, distance)
        for choice, distance, _ in process.extract(
            word, known, scorer=OSA.distance, score_cutoff=limit, limit=20
        )
        if choice not in STOPWORDS
    ]
    if len(word) < 4:
        # Three letters leave little to go on: only a one-letter slip that keeps the first
        # letter ("fod" -> "food", "dug" -> "drug"; see ``nearest`` and ``_best_reading``).
        choices = [c for c in choices if c[0][0] == word[0]]
    if not choices:
        return []
    fewest = min(distance for _, distance in choices)
    return sorted(
        (choice for choice, distance in choices if distance == fewest),
        key=lambda c: (c[0] != word[0], abs(len(c) - len(word)), c),
    )


def vocabulary_words(snap: Snapshot, schemes: tuple[str, ...]) -> frozenset[str]:
    return _words_of(snap, schemes)


@lru_cache(maxsize=32)
def _words_of(snap: Snapshot, schemes: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        word for scheme in schemes for phrase in snap.phrases[scheme] for word in phrase.split()
    )


def _by_distinctive_word(
    snap: Snapshot, schemes: tuple[str, ...], stemmed: list[str]
) -> Understood:
    """Past the last resort: a meaningful word that only one term's phrases use says that
    term ("postnatal" appears only in the new-parent need's phrases)."""
    found = Understood(words=list(stemmed))
    for scheme in schemes:
        owners = _word_owners(snap, scheme)
        for word in dict.fromkeys(stemmed):
            ids = owners.get(word, set())
            if len(word) >= MIN_DISTINCTIVE and word not in FILLER and len(ids) == 1:
                found.ids |= ids
                found.spans.append((word, ids))
        if found.ids:
            break
    return found


@lru_cache(maxsize=32)
def _word_owners(snap: Snapshot, scheme: str) -> dict[str, set[uuid.UUID]]:
    owners: dict[str, set[uuid.UUID]] = {}
    for phrase, words in _content_of(snap, scheme).items():
        for word in words:
            owners.setdefault(word, set()).update(snap.phrases[scheme][phrase])
    return owners


@lru_cache(maxsize=32)
def _content_of(snap: Snapshot, scheme: str) -> dict[str, frozenset[str]]:
    return {
        phrase: frozenset(_stem(w) for w in phrase.split() if w not in FILLER)
        for phrase in snap.phrases[scheme]
    }


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
            text, list(phrases), scorer=fuzz.WRatio, score_cutoff=60, limit=None
        ):
            for term_id in phrases[phrase]:
                scored[term_id] = max(scored.get(term_id, 0.0), score)
    ranked = sorted(scored, key=lambda t: (-scored[t], snap.names[t]))
    return ranked[:limit]
