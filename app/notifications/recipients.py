"""Who hears of an event: by email, following the roles (the issue's table, in one place);
by webhook, the subscriptions whose owner may see what the event is about."""

import uuid
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlmodel import Session

from app.accounts.models import GlobalRole, Membership, OrganisationRole, User
from app.notifications.events import ACCOUNT_EVENTS, EventType
from app.notifications.models import OutboxEvent, Webhook

E = EventType


def _members(session: Session, organisation_id: uuid.UUID | None, admins_only=False) -> set:
    if organisation_id is None:
        return set()
    statement = select(Membership.user_id).where(Membership.organisation_id == organisation_id)
    if admins_only:
        statement = statement.where(Membership.role == OrganisationRole.admin)
    return set(session.execute(statement).scalars())


def _stewards(session: Session) -> set:
    return set(session.execute(select(User.id).where(User.role == GlobalRole.steward)).scalars())


def _ids(*values: str | None) -> set:
    return {uuid.UUID(v) for v in values if v}


def email_audience(session: Session, event: OutboxEvent) -> set[uuid.UUID]:
    """Active users who should hear of ``event`` by email, never the person who caused it."""
    p, org = event.payload, event.organisation_id
    if event.type in ACCOUNT_EVENTS:  # to the account's owner, active or not yet
        return _ids(p.get("user_id"))
    match EventType(event.type):
        case E.referral_created | E.referral_expiring | E.support_offer_matched:
            users = _members(session, org)
        case E.referral_status_changed:
            withdrawn = p.get("to_status") == "withdrawn"
            users = _members(session, org) if withdrawn else _ids(p.get("referrer_id"))
        case (
            E.activity_review_due
            | E.activity_stale
            | E.assurance_expiring
            | E.assurance_expired
            | E.assurance_verified
            | E.assurance_rejected
        ):
            users = _members(session, org, admins_only=True)
        case (
            E.assurance_submitted
            | E.support_need_created
            | E.organisation_published
            | E.organisation_claimed
        ):
            users = _stewards(session)
        case E.support_need_message:
            if p.get("author_side") == "responder":
                users = _members(session, org)
            else:
                users = _ids(p.get("handler_id")) or _stewards(session)
        case E.support_need_status_changed:
            users = _members(session, org) if p.get("by_responder") else _ids(p.get("handler_id"))
        case E.webhook_disabled:
            users = _members(session, org, admins_only=True) if org else _ids(p.get("owner_id"))
        case _:  # capacity.changed, webhook.ping: for systems, not inboxes
            users = set()
    users -= _ids(p.get("actor_id"))
    if not users:
        return set()
    active = select(User.id).where(User.id.in_(users), User.is_active.is_(True))
    return set(session.execute(active).scalars())


def subscribed_webhooks(event: OutboxEvent, webhooks: Iterable[Webhook]) -> list[Webhook]:
    """An organisation's webhooks hear only of events about that organisation; an admin's
    (no organisation) hear of everything; a ping reaches only the webhook it tests."""
    if event.type == E.webhook_ping:
        return [w for w in webhooks if str(w.id) == event.payload.get("webhook_id")]
    if event.type in ACCOUNT_EVENTS:
        return []
    return [
        w
        for w in webhooks
        if event.type in w.event_types
        and (w.organisation_id is None or w.organisation_id == event.organisation_id)
    ]


def active_webhooks(session: Session) -> list[Webhook]:
    """Enabled webhooks whose owner still may see what they subscribe to: an
    organisation's, or one an admin registered while that admin is still an active admin."""
    statement = (
        select(Webhook)
        .outerjoin(User, User.id == Webhook.created_by_id)
        .where(
            Webhook.is_active.is_(True),
            or_(
                Webhook.organisation_id.is_not(None),
                (User.role == GlobalRole.admin) & User.is_active.is_(True),
            ),
        )
    )
    return list(session.execute(statement).scalars())


# Who can be an email recipient of each kind (for the preferences page): "member" of an
# organisation, "org_admin", or a global role.
AUDIENCE: dict[EventType, frozenset[str]] = {
    E.referral_created: frozenset({"member"}),
    E.referral_expiring: frozenset({"member"}),
    E.referral_status_changed: frozenset({"link_worker", "member"}),
    E.capacity_changed: frozenset(),
    E.activity_review_due: frozenset({"org_admin"}),
    E.activity_stale: frozenset({"org_admin"}),
    E.assurance_submitted: frozenset({"steward"}),
    E.assurance_expiring: frozenset({"org_admin"}),
    E.assurance_expired: frozenset({"org_admin"}),
    E.assurance_verified: frozenset({"org_admin"}),
    E.assurance_rejected: frozenset({"org_admin"}),
    E.support_need_created: frozenset({"steward"}),
    E.support_need_message: frozenset({"steward", "member"}),
    E.support_need_status_changed: frozenset({"steward", "member"}),
    E.support_offer_matched: frozenset({"member"}),
    E.organisation_published: frozenset({"steward"}),
    E.organisation_claimed: frozenset({"steward"}),
    E.webhook_disabled: frozenset({"org_admin", "admin"}),
    E.webhook_ping: frozenset(),
    # Account emails are always sent; they are not a preference.
    E.account_verify_email: frozenset(),
    E.account_sign_up_attempt: frozenset(),
    E.account_password_reset: frozenset(),
    E.account_invitation: frozenset(),
    E.account_claim_decided: frozenset(),
}


def audiences_of(principal) -> set[str]:
    found = {principal.role.value} if principal.role else set()
    if principal.member_of:
        found.add("member")
    if principal.admin_of:
        found.add("org_admin")
    return found
