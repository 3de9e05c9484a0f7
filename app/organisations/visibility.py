"""Who may see an organisation: the one rule that organisations and activities share.

Published, live organisations are public; members also see their own organisations in
any state; stewards and admins see all.
"""

from sqlalchemy import ColumnElement, or_, true

from app.accounts.principal import Principal
from app.organisations.models import Organisation, OrganisationStatus


def public() -> ColumnElement[bool]:
    return (Organisation.status == OrganisationStatus.published) & (
        Organisation.archived_at.is_(None)
    )


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
