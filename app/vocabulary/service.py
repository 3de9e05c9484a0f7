import uuid
from collections.abc import Iterable

from sqlalchemy import or_
from sqlalchemy.orm import selectinload
from sqlmodel import Session, func, select

from app.core.errors import InvalidField, NotFound
from app.core.pagination import Page, PageParams, paginate
from app.vocabulary.models import NeedCategory, Taxonomy, TaxonomyTerm, TermSynonym
from app.vocabulary.schemas import TaxonomyPublic, TermPublic, TermSummary


def summarise(term: TaxonomyTerm) -> TermSummary:
    return TermSummary(id=term.id, code=term.code, name=term.name, taxonomy=term.taxonomy.code)


def list_taxonomies(session: Session, params: PageParams) -> Page[TaxonomyPublic]:
    statement = select(Taxonomy).order_by(Taxonomy.code)
    return paginate(session, statement, params, TaxonomyPublic.model_validate)


def get_taxonomy(session: Session, taxonomy_id: uuid.UUID) -> Taxonomy:
    taxonomy = session.get(Taxonomy, taxonomy_id)
    if taxonomy is None:
        raise NotFound(f"No taxonomy with id {taxonomy_id}")
    return taxonomy


def list_terms(
    session: Session,
    params: PageParams,
    *,
    taxonomy: str | None = None,
    parent_id: uuid.UUID | None = None,
    q: str | None = None,
    include_retired: bool = False,
) -> Page[TermPublic]:
    statement = (
        select(TaxonomyTerm)
        .join(Taxonomy)
        .options(selectinload(TaxonomyTerm.taxonomy), selectinload(TaxonomyTerm.synonyms))
        .order_by(Taxonomy.code, TaxonomyTerm.name, TaxonomyTerm.id)
    )
    if taxonomy:
        statement = statement.where(Taxonomy.code == taxonomy)
    if parent_id:
        statement = statement.where(TaxonomyTerm.parent_id == parent_id)
    if not include_retired:
        statement = statement.where(TaxonomyTerm.retired_at.is_(None))
    if q:
        # Match the term's own name or any synonym: "lonely" finds "Social isolation".
        words = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{words}%"
        synonym_match = select(TermSynonym.term_id).where(
            TermSynonym.text.like(pattern, escape="\\")
        )
        statement = statement.where(
            or_(
                func.lower(TaxonomyTerm.name).like(pattern, escape="\\"),
                TaxonomyTerm.id.in_(synonym_match),
            )
        )
    page = paginate(session, statement, params, lambda term: term)
    page.contents = _to_public(session, page.contents)
    return page


def get_term(session: Session, term_id: uuid.UUID) -> TermPublic:
    statement = (
        select(TaxonomyTerm)
        .where(TaxonomyTerm.id == term_id)
        .options(selectinload(TaxonomyTerm.taxonomy), selectinload(TaxonomyTerm.synonyms))
    )
    term = session.exec(statement).first()
    if term is None:
        raise NotFound(f"No taxonomy term with id {term_id}")
    return _to_public(session, [term])[0]


def _to_public(session: Session, terms: list[TaxonomyTerm]) -> list[TermPublic]:
    """Attach synonyms and need↔category links, with one query for all the links."""
    ids = [term.id for term in terms]
    helped_by: dict[uuid.UUID, list[TermSummary]] = {term_id: [] for term_id in ids}
    helps_with: dict[uuid.UUID, list[TermSummary]] = {term_id: [] for term_id in ids}
    if ids:
        links = session.exec(
            select(NeedCategory).where(
                or_(NeedCategory.need_id.in_(ids), NeedCategory.category_id.in_(ids))
            )
        ).all()
        linked_ids = {link.need_id for link in links} | {link.category_id for link in links}
        linked = {
            term.id: summarise(term)
            for term in session.exec(
                select(TaxonomyTerm)
                .where(TaxonomyTerm.id.in_(linked_ids))
                .options(selectinload(TaxonomyTerm.taxonomy))
                .order_by(TaxonomyTerm.name)
            )
        }
        for link in links:
            if link.need_id in helped_by:
                helped_by[link.need_id].append(linked[link.category_id])
            if link.category_id in helps_with:
                helps_with[link.category_id].append(linked[link.need_id])
    return [
        TermPublic(
            id=term.id,
            code=term.code,
            name=term.name,
            description=term.description,
            taxonomy=TaxonomyPublic.model_validate(term.taxonomy),
            parent_id=term.parent_id,
            synonyms=[synonym.text for synonym in term.synonyms],
            helped_by=sorted(helped_by[term.id], key=lambda t: t.name),
            helps_with=sorted(helps_with[term.id], key=lambda t: t.name),
            retired_at=term.retired_at,
            updated_at=term.updated_at,
            version=term.version,
        )
        for term in terms
    ]


def load_terms(
    session: Session,
    term_ids: Iterable[uuid.UUID],
    field: str,
    scheme: str | None = None,
    keep: Iterable[uuid.UUID | None] = (),
) -> list[TaxonomyTerm]:
    """Fetch terms by id for linking; an unknown id, one outside ``scheme`` when given, or
    a retired term not already linked (in ``keep``) is a 422 naming ``field``."""
    wanted = list(dict.fromkeys(term_ids))
    if not wanted:
        return []
    found = {
        term.id: term
        for term in session.exec(
            select(TaxonomyTerm)
            .where(TaxonomyTerm.id.in_(wanted))
            .options(selectinload(TaxonomyTerm.taxonomy))
        )
    }
    missing = [str(term_id) for term_id in wanted if term_id not in found]
    if missing:
        raise InvalidField(
            field, f"unknown taxonomy term id(s): {', '.join(missing)}", "unknown_id"
        )
    outside = [str(t) for t in wanted if scheme and found[t].taxonomy.code != scheme]
    if outside:
        raise InvalidField(
            field, f"not terms of the {scheme} vocabulary: {', '.join(outside)}", "wrong_scheme"
        )
    kept = set(keep)
    retired = [str(t) for t in wanted if found[t].retired_at is not None and t not in kept]
    if retired:
        raise InvalidField(
            field, f"retired terms take no new links: {', '.join(retired)}", "retired"
        )
    return [found[term_id] for term_id in wanted]


def summaries(session: Session, term_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, TermSummary]:
    """Summaries of these terms by id, in one query."""
    wanted = set(term_ids)
    if not wanted:
        return {}
    return {
        term.id: summarise(term)
        for term in session.exec(
            select(TaxonomyTerm)
            .where(TaxonomyTerm.id.in_(wanted))
            .options(selectinload(TaxonomyTerm.taxonomy))
        )
    }


def resolve(
    session: Session, values: Iterable[str], schemes: Iterable[str], field: str
) -> tuple[uuid.UUID, ...]:
    """Query values naming terms of ``schemes`` by id or code, as ids; anything else is a
    422 naming ``field``."""
    schemes = list(schemes)
    found = []
    for value in values:
        try:
            condition = TaxonomyTerm.id == uuid.UUID(value)
        except ValueError:
            condition = TaxonomyTerm.code == value
        term_id = session.exec(
            select(TaxonomyTerm.id)
            .join(Taxonomy, Taxonomy.id == TaxonomyTerm.taxonomy_id)
            .where(condition, Taxonomy.code.in_(schemes))
        ).first()
        if term_id is None:
            raise InvalidField(field, f"unknown {' or '.join(schemes)} term {value!r}", "unknown")
        found.append(term_id)
    return tuple(found)
