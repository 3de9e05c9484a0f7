"""The whole vocabulary in memory for the referral search.

It is a few hundred rows that change rarely (stewards curate it), and a search would
otherwise spend several round trips resolving "lonely" to a need and its categories. Each
process holds its own copy, built at a vocabulary version (``vocabulary_state``, which every
curation raises in its own transaction). At most every ``CHECK_SECONDS`` a search reads that
one-row version, so a steward's change shows in every process's searches within seconds,
and the copy is rebuilt only when the version has moved.
"""

import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import event, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from app.search.words import normalise
from app.vocabulary.models import (
    NeedCategory,
    Taxonomy,
    TaxonomyTerm,
    TermSynonym,
    VocabularyState,
)

CHECK_SECONDS = 2.0


@dataclass(eq=False)  # hashed by identity: matching caches per snapshot
class Snapshot:
    version: int = 0
    names: dict[uuid.UUID, str] = field(default_factory=dict)
    codes: dict[uuid.UUID, str] = field(default_factory=dict)
    scheme_of: dict[uuid.UUID, str] = field(default_factory=dict)
    retired: set[uuid.UUID] = field(default_factory=set)
    # (scheme, code) -> term id: codes and ids name a term even once it is retired
    by_code: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    # scheme -> normalised name or synonym -> live term ids
    phrases: dict[str, dict[str, set[uuid.UUID]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    children: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))
    categories_of_need: dict[uuid.UUID, set[uuid.UUID]] = field(
        default_factory=lambda: defaultdict(set)
    )
    # What the Open Referral feed shows of a term beyond its name and code.
    descriptions: dict[uuid.UUID, str] = field(default_factory=dict)
    parents: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    taxonomy_of: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    taxonomy_names: dict[uuid.UUID, str] = field(default_factory=dict)

    def find(self, scheme: str, value: str) -> set[uuid.UUID]:
        """Terms of ``scheme`` named exactly by ``value``: id, code, name or synonym."""
        try:
            term_id = uuid.UUID(value)
        except ValueError:
            pass
        else:
            return {term_id} if self.scheme_of.get(term_id) == scheme else set()
        by_code = self.by_code.get((scheme, value.strip().lower()))
        if by_code is not None:
            return {by_code}
        return set(self.phrases[scheme].get(normalise(value), ()))


_lock = threading.Lock()
_cached: Snapshot | None = None
_checked_at = 0.0


def clear() -> None:
    global _cached
    with _lock:
        _cached = None


def current_version(session: Session) -> int:
    return session.exec(select(VocabularyState.version).where(VocabularyState.id == 1)).first() or 0


def bump(session: Session) -> None:
    """Raise the vocabulary version in the caller's transaction (and queue concurrent
    curators behind this one until it commits)."""
    raised = session.execute(
        update(VocabularyState)
        .where(VocabularyState.id == 1)
        .values(version=VocabularyState.version + 1)
    )
    if not raised.rowcount:
        session.add(VocabularyState(id=1, version=2))
        session.flush()
    session.info["vocabulary_changed"] = True


@event.listens_for(OrmSession, "after_commit")
def _forget_after_change(session: OrmSession) -> None:
    """This process sees its own curation at once; other processes within CHECK_SECONDS."""
    if session.info.pop("vocabulary_changed", False):
        clear()


def snapshot(session: Session, force: bool = False) -> Snapshot:
    """The vocabulary as of at most ``CHECK_SECONDS`` ago (``force``: as of now)."""
    global _cached, _checked_at
    with _lock:
        cached, fresh = _cached, time.monotonic() - _checked_at < CHECK_SECONDS
    if cached is not None and fresh and not force:
        return cached
    version = current_version(session)
    if cached is None or cached.version != version:
        cached = _build(session, version)
    with _lock:
        _cached, _checked_at = cached, time.monotonic()
    return cached


def _build(session: Session, version: int) -> Snapshot:
    snap = Snapshot(version=version)
    for term, scheme, scheme_name in session.exec(
        select(TaxonomyTerm, Taxonomy.code, Taxonomy.name).join(
            Taxonomy, Taxonomy.id == TaxonomyTerm.taxonomy_id
        )
    ):
        snap.names[term.id] = term.name
        snap.descriptions[term.id] = term.description
        snap.taxonomy_of[term.id] = term.taxonomy_id
        snap.taxonomy_names[term.taxonomy_id] = scheme_name
        if term.parent_id:
            snap.parents[term.id] = term.parent_id
        snap.codes[term.id] = term.code
        snap.scheme_of[term.id] = scheme
        snap.by_code[(scheme, term.code)] = term.id
        if term.retired_at is not None:
            snap.retired.add(term.id)
            continue
        snap.phrases[scheme][normalise(term.name)].add(term.id)
        snap.phrases[scheme][normalise(term.code.replace("-", " "))].add(term.id)
        if term.parent_id:
            snap.children[term.parent_id].add(term.id)
    for term_id, text in session.exec(select(TermSynonym.term_id, TermSynonym.text)):
        if term_id in snap.scheme_of and term_id not in snap.retired:
            snap.phrases[snap.scheme_of[term_id]][normalise(text)].add(term_id)
    for need_id, category_id in session.exec(
        select(NeedCategory.need_id, NeedCategory.category_id)
    ):
        snap.categories_of_need[need_id].add(category_id)
    for scheme in list(snap.phrases):
        snap.phrases[scheme].pop("", None)
    return snap
