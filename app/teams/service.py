"""Teams: kept by stewards and admins; read by them and by their members."""

import uuid

from sqlmodel import Session, SQLModel, select

from app.accounts.models import GlobalRole, User
from app.accounts.principal import Principal
from app.audit.recorder import record_event
from app.core.errors import Conflict, InvalidField, NotFound
from app.core.pagination import Page, PageParams, paginate_many
from app.teams.models import Team, TeamMember


class TeamMemberPublic(SQLModel):
    user_id: uuid.UUID
    display_name: str
    email: str


class TeamPublic(SQLModel):
    id: uuid.UUID
    name: str
    description: str
    members: list[TeamMemberPublic]
    version: int


class TeamPage(Page[TeamPublic]):
    """One page of teams."""


def teammates(session: Session, user_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """Everyone who shares a team with this user (themselves included when in one)."""
    mine = select(TeamMember.team_id).where(TeamMember.user_id == user_id)
    found = session.exec(select(TeamMember.user_id).where(TeamMember.team_id.in_(mine))).all()
    return frozenset(found)


def public_many(session: Session, teams: list[Team]) -> list[TeamPublic]:
    members: dict[uuid.UUID, list[TeamMemberPublic]] = {t.id: [] for t in teams}
    if teams:
        rows = session.exec(
            select(TeamMember.team_id, User)
            .join(User, User.id == TeamMember.user_id)
            .where(TeamMember.team_id.in_(list(members)))
            .order_by(User.display_name, User.id)
        )
        for team_id, user in rows:
            members[team_id].append(
                TeamMemberPublic(user_id=user.id, display_name=user.display_name, email=user.email)
            )
    return [TeamPublic(**t.model_dump(), members=members[t.id]) for t in teams]


def visible(principal: Principal):
    """Stewards and admins see every team; anyone else the teams they are in."""
    statement = select(Team).order_by(Team.name, Team.id)
    if principal.is_steward_or_admin:
        return statement
    mine = select(TeamMember.team_id).where(TeamMember.user_id == principal.id)
    return statement.where(Team.id.in_(mine))


def list_teams(session: Session, principal: Principal, params: PageParams) -> Page[TeamPublic]:
    return paginate_many(session, visible(principal), params, lambda t: public_many(session, t))


def get_visible(session: Session, principal: Principal, team_id: uuid.UUID) -> Team:
    team = session.exec(visible(principal).where(Team.id == team_id)).first()
    if team is None:
        raise NotFound(f"No team with id {team_id}")
    return team


def create_team(session: Session, name: str, description: str) -> Team:
    if session.exec(select(Team.id).where(Team.name == name)).first():
        raise Conflict(f"A team is already called {name!r}")
    team = Team(name=name, description=description)
    session.add(team)
    session.flush()
    return team


def add_member(session: Session, team: Team, user_id: uuid.UUID) -> Team:
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.role is not GlobalRole.link_worker:
        raise InvalidField("path.user_id", "teams are of active link workers", "not_link_worker")
    if session.get(TeamMember, (team.id, user_id)) is None:
        session.add(TeamMember(team_id=team.id, user_id=user_id))
        record_event(session, "update", "team", team.id, None, {"added": str(user_id)})
        session.flush()
    return team


def remove_member(session: Session, team: Team, user_id: uuid.UUID) -> Team:
    member = session.get(TeamMember, (team.id, user_id))
    if member is None:
        raise NotFound(f"User {user_id} is not in this team")
    session.delete(member)  # through the ORM: remembered credentials forget it at commit
    record_event(session, "update", "team", team.id, None, {"removed": str(user_id)})
    session.flush()
    return team
