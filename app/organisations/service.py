import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from app.accounts import service as accounts
from app.accounts.models import GlobalRole
from app.accounts.principal import Principal
from app.activities import service as activity_service
from app.areas import service as area_service
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.pagination import Page, PageParams, paginate
from app.core.sorting import ListingSort, order_by_clauses
from app.core.types import utcnow
from app.core.validation import field_values, validate_merged
from app.notifications.events import EventType, emit
from app.organisations import standing
from app.organisations.models import (
    LegalForm,
    Organisation,
    OrganisationStatus,
)
from app.organisations.schemas import (
    OrganisationCreate,
    OrganisationPublic,
    OrganisationSummary,
)
from app.organisations.visibility import is_visible, visible_to
from app.search import indexing as search_index

# Roles that may register organisations: people who run them (no global role), stewards
# and admins. Link workers and commissioners use listings; they do not create them.
REGISTRARS = (None, GlobalRole.steward, GlobalRole.admin)


@dataclass(frozen=True)
class OrganisationFilters:
    status: OrganisationStatus | None = None
    legal_form: LegalForm | None = None
    modified_after: datetime | None = None
    include_archived: bool = False
    sort: ListingSort = ListingSort.name


def list_organisations(
    session: Session, principal: Principal, filters: OrganisationFilters, params: PageParams
) -> Page[OrganisationPublic]:
    statement = select(Organisation).where(visible_to(principal))
    if filters.status:
        statement = statement.where(Organisation.status == filters.status)
    if filters.legal_form:
        statement = statement.where(Organisation.legal_form == filters.legal_form)
    if filters.modified_after:
        statement = statement.where(Organisation.updated_at > filters.modified_after)
    if not filters.include_archived:
        statement = statement.where(Organisation.archived_at.is_(None))
    statement = statement.order_by(*order_by_clauses(Organisation, filters.sort))
    page = paginate(session, statement, params, lambda organisation: organisation)
    return page.model_copy(update={"contents": _public_many(session, page.contents)})


CSV_COLUMNS = [
    "id",
    "name",
    "description",
    "status",
    "legal_form",
    "charity_number",
    "company_number",
    "ico_registration",
    "website",
    "email",
    "phone",
    "areas_served",
    "served_areas",
    "assurance_level",
    "verified_at",
    "created_at",
    "updated_at",
]


def every_organisation_row(
    session: Session, principal: Principal, filters: OrganisationFilters
) -> Iterator[dict[str, Any]]:
    """Every match as a spreadsheet row (areas as typed, and the areas it declares, each
    separated by "; "), 200 at a time."""
    number = 1
    while True:
        page = list_organisations(session, principal, filters, PageParams(number, 200))
        for organisation in page.contents:
            row = organisation.model_dump(mode="json", include=set(CSV_COLUMNS))
            yield {
                **row,
                "areas_served": "; ".join(organisation.areas_served),
                "served_areas": "; ".join(a.name for a in organisation.served_areas),
            }
        if page.last_page or page.empty:
            return
        number += 1


def public_one(session: Session, organisation: Organisation) -> OrganisationPublic:
    return _public_many(session, [organisation])[0]


def summaries(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, OrganisationSummary]:
    """Summaries of these organisations by id, in one query."""
    if not ids:
        return {}
    found = session.exec(select(Organisation).where(Organisation.id.in_(ids)))
    return {o.id: OrganisationSummary.model_validate(o) for o in found}


def _public_many(session: Session, organisations: list[Organisation]) -> list[OrganisationPublic]:
    """With responsiveness and assurance level (their stored standing, one query) and the
    areas they declare (one more)."""
    ids = [o.id for o in organisations]
    known = standing.for_organisations(session, ids, utcnow())
    served = area_service.served_by(session, ids)
    return [
        OrganisationPublic.model_validate(
            {
                **field_values(o, OrganisationPublic),
                "responsiveness": known[o.id].responsiveness,
                "assurance_level": known[o.id].assurance_level,
                "served_areas": served[o.id],
            }
        )
        for o in organisations
    ]


def get_visible_organisation(
    session: Session, principal: Principal, organisation_id: uuid.UUID
) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or not is_visible(organisation, principal):
        raise NotFound(f"No organisation with id {organisation_id}")
    return organisation


def create_organisation(
    session: Session,
    principal: Principal,
    data: OrganisationCreate,
    new_id: uuid.UUID | None = None,
) -> Organisation:
    """``new_id``: the id to give it (an import keeps its source's ids where it can)."""
    if principal.role not in REGISTRARS or (principal.kind == "api_key" and not principal.role):
        raise Forbidden(
            "Link workers, commissioners and organisation keys cannot register organisations"
        )
    _check_status_change(principal, OrganisationStatus.draft, data.status)
    if not principal.is_steward_or_admin:
        _refuse_duplicate(session, data)
    organisation = Organisation.model_validate(
        data.model_dump(exclude={"served_area_ids"}), update={"id": new_id or uuid.uuid4()}
    )
    session.add(organisation)
    session.flush()
    area_service.set_served(session, organisation.id, data.served_area_ids)
    accounts.add_creator_as_admin(session, principal, organisation.id)
    if organisation.status is OrganisationStatus.published:
        _announce_published(session, organisation)
    return organisation


def _refuse_duplicate(session: Session, data: OrganisationCreate) -> None:
    """An organisation already listed (and public) is claimed, not registered again: same
    charity or company number, or the same name once punctuation and "Ltd", "CIC", "The"
    and the like are set aside, in the same place (organisations carry no postcode, so
    the places they serve stand in: two groups of one name serving different places are
    two groups). Drafts are not compared: they do not exist for others."""
    from app.claims.service import normalised_name

    listed = select(Organisation.id, Organisation.name, Organisation.areas_served).where(
        Organisation.status == OrganisationStatus.published, Organisation.archived_at.is_(None)
    )
    for name in ("charity_number", "company_number"):
        value = getattr(data, name)
        if value and (
            found := session.exec(listed.where(getattr(Organisation, name) == value)).first()
        ):
            raise _already_listed(found.id, f"its {name.replace('_', ' ')}")
    wanted = normalised_name(data.name)
    first_word = wanted.split(" ", 1)[0] if wanted else ""
    candidates = session.exec(
        listed.where(Organisation.name.ilike(f"%{first_word}%")) if first_word else listed.limit(0)
    ).all()
    places = {a.casefold() for a in data.areas_served}
    for found in candidates:
        theirs = {a.casefold() for a in found.areas_served or []}
        elsewhere = places and theirs and not places & theirs
        if normalised_name(found.name) == wanted and not elsewhere:
            raise _already_listed(found.id, "its name")


def _already_listed(organisation_id: uuid.UUID, matched: str) -> Conflict:
    return Conflict(
        f"This organisation is already listed ({matched} matches organisation "
        f"{organisation_id}); if you run it, claim it with "
        f"POST /v1/organisations/{organisation_id}/claims"
    )


def _announce_published(session: Session, organisation: Organisation) -> None:
    emit(
        session,
        EventType.organisation_published,
        organisation_id=organisation.id,
        subject_id=organisation.id,
        name=organisation.name,
    )


def update_organisation(
    session: Session, principal: Principal, organisation: Organisation, changes: dict
) -> Organisation:
    _refuse_if_archived(organisation)
    published = (
        changes.get("status") == OrganisationStatus.published
        and organisation.status is OrganisationStatus.draft
    )
    if "status" in changes:
        _check_status_change(principal, organisation.status, changes["status"])
    served = changes.pop("served_area_ids", None)
    validate_merged(OrganisationCreate, organisation, changes)
    organisation.sqlmodel_update(changes)
    organisation.updated_at = utcnow()
    session.add(organisation)
    session.flush()
    if served is not None:
        area_service.set_served(session, organisation.id, served)
    if changes.keys() & {"name", "status", "phone", "website"}:  # what cards and the index show
        search_index.refresh_organisation(session, organisation.id)
    if published:
        _announce_published(session, organisation)
    return organisation


def _check_status_change(
    principal: Principal, current: OrganisationStatus, wanted: OrganisationStatus
) -> None:
    """Members publish and unpublish; only stewards and admins suspend or lift a suspension."""
    touches_suspension = OrganisationStatus.suspended in (current, wanted) and current != wanted
    if touches_suspension and not principal.is_steward_or_admin:
        raise Forbidden("Only stewards and admins suspend an organisation or lift a suspension")


def verify_organisation(
    session: Session, principal: Principal, organisation: Organisation
) -> Organisation:
    _refuse_if_archived(organisation)
    organisation.verified_at = organisation.updated_at = utcnow()
    organisation.verified_by_id = principal.id if principal.kind == "user" else None
    session.add(organisation)
    session.flush()
    search_index.refresh_organisation(session, organisation.id)
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
        search_index.refresh_organisation(session, organisation.id)
    return organisation


def _refuse_if_archived(organisation: Organisation) -> None:
    if organisation.archived_at is not None:
        raise Conflict(f"Organisation {organisation.id} is archived and cannot be changed")
