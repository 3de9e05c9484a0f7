"""What an email says. Each names the item and links to it; the reader signs in to see
more. Nothing about the person referred ever goes into an email."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from app.activities.models import Activity
from app.core import links
from app.core.config import get_settings
from app.notifications.events import EventType
from app.organisations.models import Organisation

E = EventType
STILL_ACCURATE = "still_accurate"


@dataclass(frozen=True)
class Message:
    subject: str
    lines: list[str]
    link: str


def still_accurate_token(activity_id: uuid.UUID, now: datetime) -> str:
    """A signed link that confirms one listing unchanged, once, until it expires; it
    grants nothing else (app/notifications/router.py checks the purpose)."""
    expires = now + timedelta(days=get_settings().still_accurate_link_days)
    return links.sign(STILL_ACCURATE, activity_id, expires, jti=uuid.uuid4().hex)


def _names(session: Session, payload: dict, organisation_id: uuid.UUID | None) -> dict:
    names = {"activity": "an activity", "organisation": "an organisation"}
    if activity_id := payload.get("activity_id"):
        found = session.execute(
            select(Activity.name).where(Activity.id == uuid.UUID(activity_id))
        ).scalar_one_or_none()
        names["activity"] = found or names["activity"]
    if organisation_id is not None:
        found = session.execute(
            select(Organisation.name).where(Organisation.id == organisation_id)
        ).scalar_one_or_none()
        names["organisation"] = found or names["organisation"]
    return names


def compose(
    session: Session,
    event_type: str,
    payload: dict,
    organisation_id: uuid.UUID | None,
    now: datetime,
) -> Message:
    settings = get_settings()
    app, p = settings.app_url.rstrip("/"), payload
    n = _names(session, p, organisation_id)
    activity, organisation = n["activity"], n["organisation"]
    match E(event_type):
        case E.referral_created:
            return Message(
                f"New referral to {activity}",
                [f"A link worker has referred someone to {activity} ({p.get('status')})."],
                f"{app}/referrals/{p['referral_id']}",
            )
        case E.referral_status_changed:
            return Message(
                f"Referral to {activity}: {p.get('to_status', '').replace('_', ' ')}",
                [f"The referral to {activity} is now {p.get('to_status')}."]
                + ([f"Reason: {p['reason'].replace('_', ' ')}."] if p.get("reason") else []),
                f"{app}/referrals/{p['referral_id']}",
            )
        case E.referral_expiring:
            return Message(
                f"A referral to {activity} expires soon",
                [f"Please answer the referral to {activity} by {p.get('respond_by')}."],
                f"{app}/referrals/{p['referral_id']}",
            )
        case E.capacity_changed:
            return Message(
                f"Capacity of {activity}: {p.get('status')}",
                [f"{activity} is now {p.get('status')}."],
                f"{app}/activities/{p['activity_id']}",
            )
        case E.activity_review_due | E.activity_stale:
            token = still_accurate_token(uuid.UUID(p["activity_id"]), now)
            confirm = f"{settings.public_api_url.rstrip('/')}/v1/still-accurate?token={token}"
            stale = event_type == E.activity_stale
            return Message(
                f"Is {activity} still accurate?",
                [
                    f"{activity} was last confirmed on {p.get('last_confirmed_at', '')[:10]}."
                    + (" It is stale and will soon leave referral search." if stale else ""),
                    f"If nothing has changed, confirm it with one click: {confirm}",
                    "Otherwise, update it here:",
                ],
                f"{app}/activities/{p['activity_id']}",
            )
        case (
            E.assurance_submitted
            | E.assurance_expiring
            | E.assurance_expired
            | E.assurance_verified
            | E.assurance_rejected
        ):
            kind = p.get("kind", "evidence").replace("_", " ")
            what = {
                E.assurance_submitted: f"{organisation} submitted {kind} for review.",
                E.assurance_expiring: f"{organisation}'s {kind} lapses on {p.get('lapses_on')}.",
                E.assurance_expired: f"{organisation}'s {kind} has lapsed.",
                E.assurance_verified: f"A steward verified {organisation}'s {kind}.",
                E.assurance_rejected: f"A steward rejected {organisation}'s {kind}: "
                f"{p.get('reason') or 'see the reason given'}.",
            }[E(event_type)]
            return Message(
                f"Assurance: {kind} {event_type.split('.')[1]}",
                [what],
                f"{app}/assurance-items/{p['assurance_item_id']}",
            )
        case E.support_need_created | E.support_need_message | E.support_need_status_changed:
            what = {
                E.support_need_created: f"{organisation} flagged a support need "
                f"({p.get('urgency')} urgency).",
                E.support_need_message: f"A new message about {organisation}'s support need.",
                E.support_need_status_changed: f"{organisation}'s support need is now "
                f"{p.get('status', '').replace('_', ' ')}.",
            }[E(event_type)]
            return Message(
                f"Support need: {organisation}", [what], f"{app}/support-needs/{p['need_id']}"
            )
        case E.support_offer_matched:
            return Message(
                "Another organisation needs the help you offer",
                [f"A support need ({p.get('urgency')} urgency) matches an offer of yours."],
                f"{app}/support-needs/{p['need_id']}",
            )
        case E.organisation_published:
            return Message(
                f"{organisation} published its listing",
                [f"{organisation} is now published and visible to everyone."],
                f"{app}/organisations/{organisation_id}",
            )
        case E.organisation_claimed:
            return Message(
                f"{organisation} was claimed",
                [f"Someone claimed {organisation}, with evidence for a steward to check."],
                f"{app}/claims/{p['claim_id']}",
            )
        case E.account_claim_decided:
            claimed = _names(session, {}, uuid.UUID(p["organisation_ref"]))["organisation"]
            if p.get("approved"):
                lines = [f"Your claim was approved: you are now an admin of {claimed}."]
            else:
                lines = [f"Your claim to run {claimed} was not approved; see the reason."]
            return Message(
                f"Your claim to {claimed}: {'approved' if p.get('approved') else 'rejected'}",
                lines,
                f"{app}/claims/{p['claim_id']}",
            )
        case E.webhook_disabled:
            return Message(
                "A webhook was switched off",
                [
                    f"Deliveries to {p.get('url')} failed {p.get('failures')} times in a row, "
                    "so it was switched off. Fix the endpoint, then switch it back on."
                ],
                f"{app}/webhooks/{p['webhook_id']}",
            )
        case E.account_verify_email | E.account_password_reset:
            from app.accounts import links
            from app.accounts.models import User

            user = session.get(User, uuid.UUID(p["user_id"]))
            if user is None:
                raise LookupError("the account is gone")
            if event_type == E.account_verify_email:
                token = links.make("verify_email", user, now)
                return Message(
                    "Confirm your email address for Signpost",
                    [
                        f"Hello {user.display_name}, confirm this address to finish signing "
                        "up (the link works once, for 48 hours):",
                        f"{app}/verify-email?token={token}",
                        "If you did not sign up, ignore this email: nothing happens.",
                    ],
                    f"{app}/sign-in",
                )
            token = links.make("reset_password", user, now)
            return Message(
                "Choose a new Signpost password",
                [
                    "Choose a new password with this link (it works once, for an hour):",
                    f"{app}/reset-password?token={token}",
                    "If you did not ask for this, ignore this email: your password stays.",
                ],
                f"{app}/sign-in",
            )
        case E.account_invitation:
            from app.invitations.models import Invitation
            from app.invitations.service import link_token

            invitation = session.get(Invitation, uuid.UUID(p["invitation_id"]))
            if invitation is None:
                raise LookupError("the invitation is gone")
            role = (invitation.organisation_role or invitation.global_role).replace("_", " ")
            if invitation.organisation_id is not None:
                organisation = _names(session, {}, invitation.organisation_id)["organisation"]
                what = f"join {organisation} on Signpost as {role}"
            else:
                what = f"join Signpost as {role}"
            return Message(
                f"You are invited to {what}",
                [
                    f"You have been invited to {what}. Accept or decline here (you can "
                    f"create your account on the way); the invitation lasts until "
                    f"{invitation.expires_at:%d %B %Y}:",
                    f"{app}/invitations?token={link_token(invitation)}",
                    "If you were not expecting this, ignore it: nothing happens unless you accept.",
                ],
                f"{app}/sign-in",
            )
        case E.account_sign_up_attempt:
            return Message(
                "Someone tried to sign up with your email address",
                [
                    "Someone tried to create a Signpost account with this address, which "
                    "already has one. If it was you, sign in, or reset your password if you "
                    "have forgotten it. If not, you need do nothing.",
                    f"{app}/forgot-password",
                ],
                f"{app}/sign-in",
            )
        case _:
            return Message(f"Signpost: {event_type}", [], app)


def render(message: Message) -> str:
    return "\n\n".join([*message.lines, message.link, _FOOTER])


def render_digest(messages: list[Message]) -> str:
    items = [f"- {m.subject}\n  {m.link}" for m in messages]
    return "\n\n".join(["What happened since yesterday:", *items, _FOOTER])


_FOOTER = (
    "You get these emails because of your role in Signpost. Choose which you get, and "
    "whether daily, in your notification preferences."
)
