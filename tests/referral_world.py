"""A small world for capacity and referral tests: one provider with an activity that takes
referrals, another organisation, and one caller per role."""

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts.models import GlobalRole
from app.vocabulary.seed import seed_vocabulary
from tests.factories import client_for, create_activity, create_organisation, make_user, patch


@dataclass
class World:
    admin: TestClient
    link_worker: TestClient
    other_link_worker: TestClient
    provider: TestClient  # an editor of the receiving organisation
    other_org: TestClient  # an editor of another organisation
    steward: TestClient
    commissioner: TestClient
    organisation: dict[str, Any]
    activity: dict[str, Any]
    needs: dict[str, str]

    def referral_body(self, activity_id: str | None = None, **overrides: Any) -> dict[str, Any]:
        return {
            "activity_id": activity_id or self.activity["id"],
            "person_reference": "LW-2291",
            "need_ids": [self.needs["social-isolation"]],
            "consent_confirmed": True,
            "contact": {
                "first_name": "Sam",
                "phone": "07700 900123",
                "preferred_contact_time": "weekday mornings",
            },
            "note": "Prefers a quieter group to start with.",
            **overrides,
        }

    def refer(self, client: TestClient | None = None, **overrides: Any) -> dict[str, Any]:
        response = (client or self.link_worker).post(
            "/v1/referrals", json=self.referral_body(**overrides)
        )
        assert response.status_code == 201, response.text
        return response.json()

    def move(self, referral_id: str, status: str, client: TestClient | None = None, **body):
        return (client or self.provider).post(
            f"/v1/referrals/{referral_id}/transitions", json={"status": status, **body}
        )

    def set_capacity(self, activity_id: str | None = None, **changes: Any) -> dict[str, Any]:
        path = f"/v1/activities/{activity_id or self.activity['id']}/capacity"
        response = patch(self.provider, path, changes)
        assert response.status_code == 200, response.text
        return response.json()

    def capacity(self, activity_id: str | None = None) -> dict[str, Any]:
        path = f"/v1/activities/{activity_id or self.activity['id']}/capacity"
        return self.admin.get(path).json()


def build_world(session: Session, admin: TestClient) -> World:
    needs = {code: str(term.id) for code, term in seed_vocabulary(session).items()}
    session.commit()
    organisation = create_organisation(admin, status="published")
    other = create_organisation(admin, status="published")
    activity = create_activity(
        admin, organisation["id"], name="Easton Walking Group", access_modes=["referral"]
    )
    return World(
        admin=admin,
        link_worker=client_for(make_user(session, role=GlobalRole.link_worker)),
        other_link_worker=client_for(make_user(session, role=GlobalRole.link_worker)),
        provider=client_for(make_user(session, member_of={organisation["id"]: "editor"})),
        other_org=client_for(make_user(session, member_of={other["id"]: "editor"})),
        steward=client_for(make_user(session, role=GlobalRole.steward)),
        commissioner=client_for(make_user(session, role=GlobalRole.commissioner)),
        organisation=organisation,
        activity=activity,
        needs=needs,
    )
