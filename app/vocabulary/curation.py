"""Stewards and admins curate the vocabulary: create, rename, re-parent, retire and
reinstate terms, add and remove synonyms, link needs to the categories that help.

Every change raises the vocabulary version (so every process's searches see it within
seconds), refreshes the search documents of the activities it touches, and is audited:
term rows by the audit hook, synonyms and links by ``record_event``.
"""

import uuid

from sqlalchemy.orm import selectinload
from sqlmodel import Session, select

from app.accounts.principal import Principal
from app.audit.recorder import record_event
from app.core.errors import Conflict, Forbidden, InvalidField, NotFound
from app.core.types import utcnow
from app.search import indexing as search_index
from app.search.words import normalise
from app.vocabulary import snapshot
from app.vocabulary.models import NeedCategory, Taxonomy, TaxonomyTerm, TermSynonym
from app.vocabulary.schemas import TermCreate


def require_curator(principal: Principal) -> None:
    if not principal.is_steward_or_admin:
        raise Forbidden("Only stewards and admins curate the vocabulary")


def term_for_update(session: Session, term_id: uuid.UUID) -> TaxonomyTerm:
    term = session.exec(
        select(TaxonomyTerm)
        .where(TaxonomyTerm.id == term_id)
        .options(selectinload(TaxonomyTerm.taxonomy), selectinload(TaxonomyTerm.synonyms))
    ).first()
    if term is None:
        raise NotFound(f"No taxonomy term with id {term_id}")
    return term


def create_term(session: Session, data: TermCreate) -> TaxonomyTerm:
    snapshot.bump(session)  # first: queues concurrent curators behind this one
    taxonomy = session.exec(select(Taxonomy).where(Taxonomy.code == data.taxonomy)).first()
    if taxonomy is None:
        raise InvalidField("body.taxonomy", f"no scheme has the code {data.taxonomy!r}", "unknown")
    taken = session.exec(
        select(TaxonomyTerm.id).where(
            TaxonomyTerm.taxonomy_id == taxonomy.id, TaxonomyTerm.code == data.code
        )
    ).first()
    if taken is not None:
        raise Conflict(f"The {taxonomy.code} scheme already has a term {data.code!r} ({taken})")
    if data.parent_id is not None:
        _check_parent(session, taxonomy.id, None, data.parent_id)
    term = TaxonomyTerm(
        taxonomy_id=taxonomy.id,
        code=data.code,
        name=data.name,
        description=data.description,
        parent_id=data.parent_id,
    )
    _check_name(session, taxonomy, term)
    session.add(term)
    session.flush()
    texts = list(
        dict.fromkeys(
            _synonym_text(text, f"body.synonyms.{index}")
            for index, text in enumerate(data.synonyms)
        )
    )
    for index, text in enumerate(texts):
        _check_synonym_free(session, taxonomy, term, text, f"body.synonyms.{index}")
        session.add(TermSynonym(term_id=term.id, text=text))
    if texts:
        record_event(
            session, "update", "taxonomy_term", term.id, None, {"synonyms": {"added": texts}}
        )
    session.flush()
    return term_for_update(session, term.id)


def update_term(session: Session, term: TaxonomyTerm, changes: dict) -> TaxonomyTerm:
    snapshot.bump(session)
    if term.retired_at is not None:
        raise Conflict(f"Term {term.id} is retired: reinstate it to change it")
    if changes.get("parent_id") is not None:
        _check_parent(session, term.taxonomy_id, term.id, changes["parent_id"])
    renamed = "name" in changes and changes["name"] != term.name
    term.sqlmodel_update(changes)
    if renamed:
        _check_name(session, term.taxonomy, term)
    term.updated_at = utcnow()
    session.add(term)
    session.flush()
    if renamed:
        search_index.refresh_terms(session, [term.id])
    return term


def set_retired(session: Session, term: TaxonomyTerm, retired: bool) -> TaxonomyTerm:
    """Retire (or reinstate) a term: its existing links stay, but pickers, searches by name
    and new links leave it out. A term with live children cannot be retired."""
    snapshot.bump(session)
    if retired and term.retired_at is None:
        live_child = session.exec(
            select(TaxonomyTerm.code).where(
                TaxonomyTerm.parent_id == term.id, TaxonomyTerm.retired_at.is_(None)
            )
        ).first()
        if live_child is not None:
            raise Conflict(f"Retire or re-parent its narrower terms first (e.g. {live_child!r})")
        term.retired_at = term.updated_at = utcnow()
    elif not retired and term.retired_at is not None:
        for synonym in term.synonyms:
            _check_synonym_free(session, term.taxonomy, term, synonym.text, "path.term_id")
        term.retired_at, term.updated_at = None, utcnow()
    session.add(term)
    session.flush()
    return term


def add_synonym(session: Session, term: TaxonomyTerm, text: str) -> TaxonomyTerm:
    snapshot.bump(session)
    text = _synonym_text(text)
    if term.retired_at is not None:
        raise Conflict(f"Term {term.id} is retired: reinstate it to add synonyms")
    if any(synonym.text == text for synonym in term.synonyms):
        return term  # already there: adding twice changes nothing
    _check_synonym_free(session, term.taxonomy, term, text, "body.text")
    session.add(TermSynonym(term_id=term.id, text=text))
    return _touched(session, term, {"synonyms": {"added": [text]}})


def remove_synonym(session: Session, term: TaxonomyTerm, text: str) -> TaxonomyTerm:
    snapshot.bump(session)
    text = _synonym_text(text, "path.text")
    synonym = next((s for s in term.synonyms if s.text == text), None)
    if synonym is None:
        raise NotFound(f"Term {term.code!r} has no synonym {text!r}")
    term.synonyms.remove(synonym)
    return _touched(session, term, {"synonyms": {"removed": [text]}})


def link(session: Session, need: TaxonomyTerm, category_id: uuid.UUID, linked: bool):
    """Say that activities of this category help with this need (or no longer do)."""
    snapshot.bump(session)
    if need.taxonomy.code != "need":
        raise InvalidField("path.term_id", "only needs are helped by categories", "wrong_scheme")
    category = session.exec(
        select(TaxonomyTerm)
        .where(TaxonomyTerm.id == category_id)
        .options(selectinload(TaxonomyTerm.taxonomy))
    ).first()
    if category is None or category.taxonomy.code != "activity-category":
        raise InvalidField("path.category_id", "no activity category has this id", "unknown_id")
    existing = session.get(NeedCategory, (need.id, category.id))
    if linked and existing is None:
        if category.retired_at is not None or need.retired_at is not None:
            raise InvalidField("path.category_id", "retired terms take no new links", "retired")
        session.add(NeedCategory(need_id=need.id, category_id=category.id))
        return _touched(session, need, {"helped_by": {"added": [category.code]}})
    if not linked and existing is not None:
        session.delete(existing)
        return _touched(session, need, {"helped_by": {"removed": [category.code]}})
    return need


def _touched(session: Session, term: TaxonomyTerm, changes: dict) -> TaxonomyTerm:
    """Audit a change the hook cannot see, and move the term's ETag with it."""
    term.updated_at = utcnow()
    session.add(term)
    record_event(session, "update", "taxonomy_term", term.id, None, changes)
    session.flush()
    if "synonyms" in changes:
        search_index.refresh_terms(session, [term.id])
    session.refresh(term, ["synonyms"])
    return term


def _synonym_text(text: str, field: str = "body.text") -> str:
    cleaned = " ".join(text.lower().split())
    if not normalise(cleaned):
        raise InvalidField(field, "must contain a letter or a digit", "no_words")
    return cleaned


def _check_synonym_free(session, taxonomy, term, text: str, field: str) -> None:
    """A synonym names one live term of its scheme: another term's synonym or name that
    reads the same is a 409 naming both."""
    wanted = normalise(text)
    for other in _live_terms_of(session, taxonomy.id, exclude=term.id):
        said = [other.name, *(s.text for s in other.synonyms)]
        if any(normalise(phrase) == wanted for phrase in said):
            raise Conflict(
                f"{field}: {text!r} already names {other.name!r} ({other.code}, {other.id}) in "
                f"the {taxonomy.code} scheme; it cannot also name {term.name!r} ({term.code})"
            )


def _check_name(session: Session, taxonomy: Taxonomy, term: TaxonomyTerm) -> None:
    _check_synonym_free(session, taxonomy, term, term.name, "body.name")


def _live_terms_of(session: Session, taxonomy_id: uuid.UUID, exclude: uuid.UUID | None):
    statement = (
        select(TaxonomyTerm)
        .where(TaxonomyTerm.taxonomy_id == taxonomy_id, TaxonomyTerm.retired_at.is_(None))
        .options(selectinload(TaxonomyTerm.synonyms))
    )
    if exclude is not None:
        statement = statement.where(TaxonomyTerm.id != exclude)
    return session.exec(statement).all()


def _check_parent(
    session: Session, taxonomy_id: uuid.UUID, term_id: uuid.UUID | None, parent_id: uuid.UUID
) -> None:
    parent = session.get(TaxonomyTerm, parent_id)
    if parent is None or parent.taxonomy_id != taxonomy_id:
        raise InvalidField("body.parent_id", "no term of the same scheme has this id", "unknown_id")
    if parent.retired_at is not None:
        raise InvalidField("body.parent_id", "is retired", "retired")
    ancestor: TaxonomyTerm | None = parent
    while ancestor is not None:  # a term cannot sit under itself or its own descendants
        if ancestor.id == term_id:
            raise InvalidField("body.parent_id", "would put the term under itself", "cycle")
        ancestor = session.get(TaxonomyTerm, ancestor.parent_id) if ancestor.parent_id else None
