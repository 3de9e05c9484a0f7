import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from app.activities import service as activity_service
from app.core.errors import Conflict, NotFound
from app.core.pagination import Page, PageParams, paginate
from app.core.sorting import ListingSort, order_by_clauses
from app.core.types import utcnow
from app.core.validation import validate_merged
from app.organisations.models import LegalForm, Organisation, OrganisationStatus
from app.organisations.schemas import OrganisationCreate, OrganisationPublic


@dataclass(frozen=True)
class OrganisationFilters:
    status: OrganisationStatus | None = None
    legal_form: LegalForm | None = None
    modified_after: datetime | None = None
    include_archived: bool = False
    sort: ListingSort = ListingSort.name


def list_organisations(
    session: Session, filters: OrganisationFilters, params: PageParams
) -> Page[OrganisationPublic]:
    statement = select(Organisation)
    if filters.status:
        statement = statement.where(Organisation.status == filters.status)
    if filters.legal_form:
        statement = statement.where(Organisation.legal_form == filters.legal_form)
    if filters.modified_after:
        statement = statement.where(Organisation.updated_at > filters.modified_after)
    if not filters.include_archived:
        statement = statement.where(Organisation.archived_at.is_(None))
    statement = statement.order_by(*order_by_clauses(Organisation, filters.sort))
    return paginate(session, statement, params, OrganisationPublic.model_validate)


def get_organisation(session: Session, organisation_id: uuid.UUID) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"No organisation with id {organisation_id}")
    return organisation


def create_organisation(session: Session, data: OrganisationCreate) -> Organisation:
    organisation = Organisation.model_validate(data)
    session.add(organisation)
    session.flush()
    return organisation


def update_organisation(
    session: Session, organisation: Organisation, changes: dict
) -> Organisation:
    _refuse_if_archived(organisation)
    validate_merged(OrganisationCreate, organisation, changes)
    organisation.sqlmodel_update(changes)
    organisation.updated_at = utcnow()
    session.add(organisation)
    session.flush()
    return organisation


def archive_organisation(session: Session, organisation: Organisation) -> Organisation:
    """Archive the organisation and every activity it runs; idempotent."""
    if organisation.archived_at is None:
        now = utcnow()
        organisation.archived_at = now
        organisation.updated_at = now
        session.add(organisation)
        activity_service.archive_for_organisation(session, organisation.id, now)
        session.flush()
    return organisation


def _refuse_if_archived(organisation: Organisation) -> None:
    if organisation.archived_at is not None:
        raise Conflict(f"Organisation {organisation.id} is archived and cannot be changed")
