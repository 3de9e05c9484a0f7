"""What can happen, and ``emit``: the one way a change records an event, in its own
transaction (the transactional outbox)."""

import uuid
from enum import StrEnum
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlmodel import Session

from app.core.db import insert_once
from app.core.types import utcnow
from app.notifications.models import OutboxEvent


class EventType(StrEnum):
    referral_created = "referral.created"
    referral_status_changed = "referral.status_changed"
    referral_expiring = "referral.expiring"
    capacity_changed = "capacity.changed"
    activity_review_due = "activity.review_due"
    activity_stale = "activity.stale"
    assurance_submitted = "assurance.submitted"
    assurance_expiring = "assurance.expiring"
    assurance_expired = "assurance.expired"
    assurance_verified = "assurance.verified"
    assurance_rejected = "assurance.rejected"
    support_need_created = "support_need.created"
    support_need_message = "support_need.message"
    support_need_status_changed = "support_need.status_changed"
    support_offer_matched = "support_offer.matched"
    organisation_published = "organisation.published"
    organisation_claimed = "organisation.claimed"
    webhook_disabled = "webhook.disabled"
    webhook_ping = "webhook.ping"
    # Emails about a person's own account: always sent, to that person only, never to
    # webhooks (the payload holds only the user id).
    account_verify_email = "account.verify_email"
    account_sign_up_attempt = "account.sign_up_attempt"
    account_password_reset = "account.password_reset"
    account_invitation = "account.invitation"  # to an address, which may have no account
    account_claim_decided = "account.claim_decided"


ACCOUNT_EVENTS = frozenset(
    {
        EventType.account_verify_email,
        EventType.account_sign_up_attempt,
        EventType.account_password_reset,
        EventType.account_invitation,
        EventType.account_claim_decided,
    }
)


# What each event means, as the preferences and webhook documentation show it.
DESCRIPTIONS: dict[EventType, str] = {
    EventType.referral_created: "A link worker referred someone to one of your activities",
    EventType.referral_status_changed: "A referral moved on (accepted, declined, attended…)",
    EventType.referral_expiring: "A referral to your organisation expires in 2 days unanswered",
    EventType.capacity_changed: "An activity's places, waiting list or pause changed",
    EventType.activity_review_due: "A listing is due for review: is it still accurate?",
    EventType.activity_stale: "A listing has gone stale and will soon leave referral search",
    EventType.assurance_submitted: "Safety evidence was submitted and awaits a steward",
    EventType.assurance_expiring: "Safety evidence (insurance, training…) expires soon",
    EventType.assurance_expired: "Safety evidence has lapsed",
    EventType.assurance_verified: "A steward verified safety evidence",
    EventType.assurance_rejected: "A steward rejected safety evidence, with a reason",
    EventType.support_need_created: "An organisation flagged a support need",
    EventType.support_need_message: "A new message in a support need's thread",
    EventType.support_need_status_changed: "A support need moved on",
    EventType.support_offer_matched: "Another organisation needs the help you offer",
    EventType.organisation_published: "An organisation published its listing",
    EventType.organisation_claimed: "Someone claimed a listed organisation, with evidence",
    EventType.webhook_disabled: "A webhook was switched off after repeated failures",
    EventType.webhook_ping: "A test delivery asked for with POST /v1/webhooks/{id}/ping",
    EventType.account_verify_email: "Confirm your email address to finish signing up",
    EventType.account_sign_up_attempt: "Someone tried to sign up with your email address",
    EventType.account_password_reset: "A link to choose a new password",
    EventType.account_invitation: "An invitation to join an organisation or Signpost",
    EventType.account_claim_decided: "A steward approved or rejected your claim",
}

# Webhooks subscribe to these (pings go to the one webhook that asked).
SubscribableEvent = StrEnum(
    "SubscribableEvent",
    {
        t.name: t.value
        for t in EventType
        if t is not EventType.webhook_ping and t not in ACCOUNT_EVENTS
    },
)


def emit(
    session: Session,
    event_type: EventType,
    *,
    organisation_id: uuid.UUID | None,
    subject_id: uuid.UUID | None,
    dedupe_key: str | None = None,
    event_id: uuid.UUID | None = None,
    **payload: Any,
) -> bool:
    """Record that ``event_type`` happened, in the session's transaction: if the change
    rolls back, so does its event. ``payload`` holds ids, states and names, never personal
    data. With ``dedupe_key``, an event already recorded under that key is not recorded
    again (sweeps run often and nudge once). True when recorded."""
    principal = session.info.get("principal")
    if principal is not None and principal.kind == "user":
        payload.setdefault("actor_id", principal.id)  # not told of their own change
    values = {
        "id": event_id or uuid.uuid4(),
        "type": event_type.value,
        "organisation_id": organisation_id,
        "subject_id": subject_id,
        "dedupe_key": dedupe_key,
        "payload": jsonable_encoder(payload),
        "created_at": utcnow(),
    }
    if dedupe_key is None:
        session.execute(OutboxEvent.__table__.insert().values(**values))
        return True
    return insert_once(session, OutboxEvent.__table__, values, ["dedupe_key"])
