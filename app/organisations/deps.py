import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.accounts.deps import Authenticated, CurrentPrincipal, require_organisation_editor
from app.core.concurrency import IfMatch, check_if_match
from app.core.db import LoaderSessionDep
from app.core.errors import Forbidden
from app.organisations import service
from app.organisations.models import Organisation


def visible_organisation(
    session: LoaderSessionDep,
    principal: CurrentPrincipal,
    organisation_id: Annotated[uuid.UUID, Path(description="The organisation's id")],
) -> Organisation:
    """The organisation, or 404 when it does not exist *or* the caller may not see it."""
    return service.get_visible_organisation(session, principal, organisation_id)


VisibleOrganisation = Annotated[Organisation, Depends(visible_organisation)]


def editable_organisation(
    principal: Authenticated, organisation: VisibleOrganisation
) -> Organisation:
    require_organisation_editor(principal, organisation.id)
    return organisation


EditableOrganisation = Annotated[Organisation, Depends(editable_organisation)]


def organisation_for_update(
    organisation: EditableOrganisation, if_match: IfMatch = None
) -> Organisation:
    check_if_match(if_match, organisation.version)
    return organisation


OrganisationForUpdate = Annotated[Organisation, Depends(organisation_for_update)]


def administered_organisation(
    principal: Authenticated, organisation: VisibleOrganisation
) -> Organisation:
    if not principal.is_steward_or_admin and not principal.can_manage_members(organisation.id):
        raise Forbidden("Only the organisation's admins, stewards and admins may do this")
    return organisation


AdministeredOrganisation = Annotated[Organisation, Depends(administered_organisation)]


def _members_manager(organisation: VisibleOrganisation, principal: Authenticated) -> uuid.UUID:
    if not principal.can_manage_members(organisation.id):
        raise Forbidden("Only the organisation's admins (and Signpost admins) manage members")
    return organisation.id


# The organisation's id, for its admins and Signpost admins (members, invitations).
ManagedOrganisationId = Annotated[uuid.UUID, Depends(_members_manager)]
