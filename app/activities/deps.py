import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.accounts.deps import Authenticated, CurrentPrincipal, require_organisation_editor
from app.activities import service
from app.activities.models import Activity
from app.core.concurrency import IfMatch, check_if_match
from app.core.db import LoaderSessionDep


def visible_activity(
    session: LoaderSessionDep,
    principal: CurrentPrincipal,
    activity_id: Annotated[uuid.UUID, Path(description="The activity's id")],
) -> Activity:
    """The activity, or 404 when it does not exist *or* the caller may not see it."""
    return service.get_visible_activity(session, principal, activity_id)


VisibleActivity = Annotated[Activity, Depends(visible_activity)]


def editable_activity(principal: Authenticated, activity: VisibleActivity) -> Activity:
    require_organisation_editor(principal, activity.organisation_id)
    return activity


EditableActivity = Annotated[Activity, Depends(editable_activity)]


def activity_for_update(activity: EditableActivity, if_match: IfMatch = None) -> Activity:
    check_if_match(if_match, activity.version)
    return activity


ActivityForUpdate = Annotated[Activity, Depends(activity_for_update)]
