"""``/v1/teams``: link workers' teams. Stewards and admins keep them; members read their
own."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import Field

from app.accounts.deps import Authenticated
from app.core.db import SessionDep, StatementSessionDep
from app.core.errors import problem_responses
from app.core.pagination import PageDep
from app.core.schemas import RequestModel
from app.idempotency.service import Idempotent, IdempotentRoute
from app.teams import service
from app.teams.models import Team
from app.teams.service import TeamPage, TeamPublic
from app.vocabulary.router import Curator

router = APIRouter(route_class=IdempotentRoute, prefix="/v1/teams", tags=["referrals"])
TeamId = Annotated[uuid.UUID, Path(description="The team's id")]
UserId = Annotated[uuid.UUID, Path(description="A link worker's user id")]
KEEPING = problem_responses(401, 403, 404, 409, 422)


class TeamCreate(RequestModel):
    model_config = {"json_schema_extra": {"examples": [{"name": "Inner City and East PCN"}]}}

    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=2000)


def _kept(session: SessionDep, curator: Curator, team_id: TeamId) -> Team:
    return service.get_visible(session, curator, team_id)


KeptTeam = Annotated[Team, Depends(_kept)]


def _one(session: SessionDep, team: Team) -> TeamPublic:
    return service.public_many(session, [team])[0]


@router.get("", responses=problem_responses(401, 422))
def list_teams(session: StatementSessionDep, principal: Authenticated, page: PageDep) -> TeamPage:
    """Every team for stewards and admins; your own teams for anyone else."""
    return service.list_teams(session, principal, page)


@router.get("/{team_id}", responses=problem_responses(401, 404, 422))
def get_team(session: StatementSessionDep, principal: Authenticated, team_id: TeamId) -> TeamPublic:
    """A team with its members (404 to anyone neither in it nor a steward or admin)."""
    return _one(session, service.get_visible(session, principal, team_id))


@router.post("", status_code=status.HTTP_201_CREATED, responses=KEEPING, dependencies=[Idempotent])
def create_team(
    session: SessionDep, _: Curator, body: TeamCreate, response: Response
) -> TeamPublic:
    """Add a team of link workers (stewards and admins); a name in use is a 409."""
    team = service.create_team(session, body.name, body.description)
    response.headers["Location"] = f"/v1/teams/{team.id}"
    return _one(session, team)


@router.put("/{team_id}/members/{user_id}", responses=KEEPING)
def add_team_member(session: SessionDep, team: KeptTeam, user_id: UserId) -> TeamPublic:
    """Put a link worker in the team: from now on they and the others see and act on
    each other's referrals (audited as themselves)."""
    return _one(session, service.add_member(session, team, user_id))


@router.delete("/{team_id}/members/{user_id}", responses=KEEPING)
def remove_team_member(session: SessionDep, team: KeptTeam, user_id: UserId) -> TeamPublic:
    """Take a link worker out of the team: their access to the others' referrals ends at
    once (and theirs to them)."""
    return _one(session, service.remove_member(session, team, user_id))
