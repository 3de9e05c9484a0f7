"""Who may see an organisation: the one rule that organisations and activities share.

Published, live organisations are public; members also see their own organisations in
any state; stewards and admins see all.
"""

from sqlalchemy import ColumnElement, Select, literal_column, or_, select, true
from sqlalchemy.orm import Session

from app.accounts.principal import Principal
from app.organisations.models import Organisation, OrganisationStatus


def public() -> ColumnElement[bool]:
    """Published and live: the condition of ``ix_organisation_public``, with the status as a
    literal (as the index has it) so that even a prepared statement's plan may use it."""
    published = literal_column(f"'{OrganisationStatus.published.value}'")
    return (Organisation.status == published) & Organisation.archived_at.is_(None)


def visible_to(principal: Principal) -> ColumnElement[bool]:
    if principal.is_steward_or_admin:
        return true()
    if principal.member_of:
        return or_(public(), Organisation.id.in_(principal.member_of))
    return public()


def is_visible(organisation: Organisation, principal: Principal) -> bool:
    return (
        principal.is_steward_or_admin
        or organisation.id in principal.member_of
        or (
            organisation.status == OrganisationStatus.published and organisation.archived_at is None
        )
    )


def belongs_to_visible(column: ColumnElement, principal: Principal) -> ColumnElement[bool]:
    """Rows whose organisation (``column``) the caller may see: what belongs to a draft
    (its needs, offers, venues) does not exist for anyone outside it."""
    if principal.is_steward_or_admin:
        return true()
    return column.in_(select(Organisation.id).where(visible_to(principal)))


def is_visible_id(session: Session, principal: Principal, organisation_id) -> bool:
    """:func:`is_visible` for a row that holds only the organisation's id."""
    if principal.is_steward_or_admin or organisation_id in principal.member_of:
        return True
    organisation = session.get(Organisation, organisation_id)
    return organisation is not None and is_visible(organisation, principal)


def unpublished_hidden_from(principal: Principal) -> Select | None:
    """Ids of the draft organisations ``principal`` may not see, or None when there are none
    to hide (stewards and admins). Reports use this rather than :func:`belongs_to_visible`, so a
    suspended or archived organisation's history still counts (as it does, without names,
    in the totals), while a draft that never went public leaves no trace."""
    if principal.is_steward_or_admin:
        return None
    hidden = select(Organisation.id).where(Organisation.status == OrganisationStatus.draft)
    if principal.member_of:
        hidden = hidden.where(Organisation.id.not_in(principal.member_of))
    return hidden
