"""The whole vocabulary in memory for the referral search, refreshed every minute.

It is a few hundred rows that change rarely (stewards curate it), and a search would
otherwise spend several round trips resolving "lonely" to a need and its categories.
Each process holds its own copy: a change shows in searches within ``TTL_SECONDS``.
"""

import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.vocabulary.models import NeedCategory, Taxonomy, TaxonomyTerm, TermSynonym

TTL_SECONDS = 60.0


@dataclass
class Snapshot:
    names: dict[uuid.UUID, str] = field(default_factory=dict)
    scheme_of: dict[uuid.UUID, str] = field(default_factory=dict)
    # (scheme, lower-case name, code or synonym) -> term ids
    lookup: dict[tuple[str, str], set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))
    children: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))
    categories_of_need: dict[uuid.UUID, set[uuid.UUID]] = field(
        default_factory=lambda: defaultdict(set)
    )
    # every lower-case name and synonym, for spotting vocabulary in free text
    phrases: dict[str, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))

    def find(self, scheme: str, value: str) -> set[uuid.UUID]:
        try:
            term_id = uuid.UUID(value)
        except ValueError:
            return set(self.lookup.get((scheme, " ".join(value.lower().split())), ()))
        return {term_id} if self.scheme_of.get(term_id) == scheme else set()


_lock = threading.Lock()
_cached: tuple[float, Snapshot] | None = None


def clear() -> None:
    global _cached
    with _lock:
        _cached = None


def snapshot(session: Session) -> Snapshot:
    global _cached
    with _lock:
        if _cached and time.monotonic() - _cached[0] < TTL_SECONDS:
            return _cached[1]
    built = _build(session)
    with _lock:
        _cached = (time.monotonic(), built)
    return built


def _build(session: Session) -> Snapshot:
    snap = Snapshot()
    for term, scheme in session.exec(
        select(TaxonomyTerm, Taxonomy.code).join(Taxonomy, Taxonomy.id == TaxonomyTerm.taxonomy_id)
    ):
        snap.names[term.id] = term.name
        snap.scheme_of[term.id] = scheme
        for key in (term.name.lower(), term.code):
            snap.lookup[(scheme, key)].add(term.id)
        snap.phrases[term.name.lower()].add(term.id)
        if term.parent_id:
            snap.children[term.parent_id].add(term.id)
    for term_id, text in session.exec(select(TermSynonym.term_id, TermSynonym.text)):
        if term_id in snap.scheme_of:
            snap.lookup[(snap.scheme_of[term_id], text)].add(term_id)
            snap.phrases[text].add(term_id)
    for need_id, category_id in session.exec(
        select(NeedCategory.need_id, NeedCategory.category_id)
    ):
        snap.categories_of_need[need_id].add(category_id)
    return snap
