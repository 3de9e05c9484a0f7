"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.accounts.models import ApiKey, Membership, SignInThrottle, User
from app.activities.models import Activity, ActivityTerm, ActivityVenue, Schedule
from app.areas.models import Area, AreaKey, AreaPlace, OrganisationServedArea
from app.assurance.models import AssuranceItem
from app.audit import recorder  # noqa: F401 - registers the audit hook on every session
from app.audit.models import AuditEntry
from app.capacity.models import ActivityCapacity, CapacityChange
from app.claims.models import OrganisationClaim
from app.closures.models import Closure
from app.core.db import metadata
from app.geo.models import Postcode
from app.idempotency.models import IdempotencyRecord
from app.invitations.models import Invitation
from app.notifications.models import (
    Delivery,
    NotificationPreference,
    OutboxEvent,
    UsedToken,
    Webhook,
)
from app.openreferral.models import ExternalRecord, ExternalTerm
from app.organisations.models import Organisation, OrganisationStanding
from app.referrals.models import Referral, ReferralEvent, ReferralNeed, WellbeingScore
from app.search import demand  # noqa: F401 - counts demand as each search is logged
from app.search.models import ActivityCardRecord, SearchDemandDay, SearchLog
from app.support.models import SupportMessage, SupportNeed, SupportOffer
from app.teams.models import Team, TeamMember
from app.venues.models import Venue
from app.vocabulary.models import NeedCategory, Taxonomy, TaxonomyTerm, TermSynonym

__all__ = [
    "Activity",
    "ActivityCapacity",
    "ActivityCardRecord",
    "ActivityTerm",
    "ActivityVenue",
    "ApiKey",
    "Area",
    "AreaKey",
    "AreaPlace",
    "AssuranceItem",
    "AuditEntry",
    "CapacityChange",
    "Closure",
    "Delivery",
    "ExternalRecord",
    "ExternalTerm",
    "IdempotencyRecord",
    "Invitation",
    "Membership",
    "NeedCategory",
    "NotificationPreference",
    "Organisation",
    "OrganisationClaim",
    "OrganisationServedArea",
    "OrganisationStanding",
    "OutboxEvent",
    "Postcode",
    "Referral",
    "ReferralEvent",
    "ReferralNeed",
    "Schedule",
    "SearchDemandDay",
    "SearchLog",
    "SignInThrottle",
    "SupportMessage",
    "SupportNeed",
    "SupportOffer",
    "Taxonomy",
    "TaxonomyTerm",
    "Team",
    "TeamMember",
    "TermSynonym",
    "UsedToken",
    "User",
    "Venue",
    "Webhook",
    "WellbeingScore",
    "metadata",
]
