"""Who is calling, in one shape for users and API keys: the permission model."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from app.accounts.models import GlobalRole, OrganisationRole


@dataclass(frozen=True)
class Principal:
    kind: Literal["anonymous", "user", "api_key", "system"]
    id: uuid.UUID | None = None
    role: GlobalRole | None = None
    memberships: Mapping[uuid.UUID, OrganisationRole] = field(default_factory=dict)
    # The areas a commissioner's reports are limited to; empty: no limit.
    areas: frozenset[uuid.UUID] = frozenset()
    # A link worker's team-mates (user ids), whose referrals they see and act on.
    teammates: frozenset[uuid.UUID] = frozenset()

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def is_admin(self) -> bool:
        return self.role is GlobalRole.admin

    @property
    def is_steward_or_admin(self) -> bool:
        """Stewards curate every listing; admins do everything."""
        return self.role in (GlobalRole.steward, GlobalRole.admin)

    def has_role(self, *roles: GlobalRole) -> bool:
        return self.role in roles

    def can_edit_organisation(self, organisation_id: uuid.UUID) -> bool:
        return self.is_steward_or_admin or organisation_id in self.memberships

    def can_manage_members(self, organisation_id: uuid.UUID) -> bool:
        return self.is_admin or self.memberships.get(organisation_id) is OrganisationRole.admin

    @property
    def member_of(self) -> frozenset[uuid.UUID]:
        return frozenset(self.memberships)

    @property
    def admin_of(self) -> frozenset[uuid.UUID]:
        return frozenset(
            org for org, role in self.memberships.items() if role is OrganisationRole.admin
        )


ANONYMOUS = Principal(kind="anonymous")
# What the CLI (seeding, imports, sweeps) acts as; the audit log records it as "system".
SYSTEM = Principal(kind="system", role=GlobalRole.admin)
