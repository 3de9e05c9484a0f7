import uuid
from typing import Annotated

from fastapi import Depends, Path

from app.activities import service
from app.activities.models import Activity
from app.core.db import SessionDep


def activity_from_path(
    session: SessionDep, activity_id: Annotated[uuid.UUID, Path(description="The activity's id")]
) -> Activity:
    return service.get_activity(session, activity_id)


ActivityDep = Annotated[Activity, Depends(activity_from_path)]
