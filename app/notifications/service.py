"""Preferences, webhooks, dead letters and the one-click "still accurate" link."""

import secrets
import uuid
from base64 import b64encode

from sqlalchemy import select, update
from sqlmodel import Session

from app.accounts.principal import Principal
from app.activities import service as activities
from app.activities.models import Activity
from app.audit.recorder import record_event
from app.core import crypto, links
from app.core.db import insert_once
from app.core.errors import Conflict, Forbidden, InvalidField, NotFound
from app.core.pagination import Page, PageParams, paginate
from app.core.types import utcnow
from app.notifications.events import DESCRIPTIONS, EventType, emit
from app.notifications.messages import STILL_ACCURATE
from app.notifications.models import (
    Delivery,
    DeliveryMode,
    DeliveryStatus,
    NotificationPreference,
    OutboxEvent,
    UsedToken,
    Webhook,
)
from app.notifications.recipients import AUDIENCE, audiences_of
from app.notifications.schemas import (
    DeliveryPublic,
    NotificationPreferences,
    PreferencePublic,
    PreferencesUpdate,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)
from app.notifications.transport import check_destination
from app.organisations.models import Organisation

# --- preferences --------------------------------------------------------------------------


def _require_user(principal: Principal) -> uuid.UUID:
    if principal.kind != "user" or principal.id is None:
        raise Forbidden("Notification preferences belong to signed-in people, not API keys")
    return principal.id


def preferences(session: Session, principal: Principal) -> NotificationPreferences:
    user_id = _require_user(principal)
    chosen = dict(
        session.execute(
            select(NotificationPreference.event_type, NotificationPreference.mode).where(
                NotificationPreference.user_id == user_id
            )
        ).all()
    )
    mine = audiences_of(principal)
    return NotificationPreferences(
        preferences=[
            PreferencePublic(
                event_type=kind,
                mode=chosen.get(kind.value, DeliveryMode.immediately),
                description=DESCRIPTIONS[kind],
                applies_to_you=bool(AUDIENCE[kind] & mine),
            )
            for kind in EventType
            if AUDIENCE[kind]
        ]
    )


def set_preferences(
    session: Session, principal: Principal, body: PreferencesUpdate
) -> NotificationPreferences:
    user_id = _require_user(principal)
    for index, change in enumerate(body.preferences):
        if not AUDIENCE[change.event_type]:
            raise InvalidField(
                f"body.preferences.{index}.event_type",
                f"{change.event_type} is not a choice: it is either never emailed "
                "(webhooks only) or always (your own account's emails)",
                "not_a_choice",
            )
        row = session.get(NotificationPreference, (user_id, change.event_type.value))
        if row is None:
            row = NotificationPreference(user_id=user_id, event_type=change.event_type.value)
        row.mode = change.mode
        session.add(row)
    record_event(
        session,
        "update",
        "notification_preferences",
        user_id,
        None,
        {c.event_type.value: {"after": c.mode.value} for c in body.preferences},
    )
    session.flush()
    return preferences(session, principal)


# --- webhooks -----------------------------------------------------------------------------


def _may_manage(principal: Principal, organisation_id: uuid.UUID | None) -> bool:
    if principal.is_admin:
        return True
    return organisation_id is not None and organisation_id in principal.admin_of


def _check_url(url: str) -> None:
    if problem := check_destination(url):
        raise InvalidField("body.url", problem, "refused_destination")


def create_webhook(session: Session, principal: Principal, body: WebhookCreate) -> WebhookCreated:
    if body.organisation_id is None and not principal.is_admin:
        raise Forbidden("Only admins register webhooks for every event; give organisation_id")
    if body.organisation_id is not None:
        if not _may_manage(principal, body.organisation_id):
            # Also for ids that do not exist: a draft is not told apart from nothing.
            raise Forbidden("Only the organisation's admins (or admins) register its webhooks")
        if session.get(Organisation, body.organisation_id) is None:
            raise InvalidField("body.organisation_id", "no organisation has this id", "unknown_id")
    _check_url(body.url)
    secret = "whsec_" + b64encode(secrets.token_bytes(32)).decode()
    now = utcnow()
    hook = Webhook(
        organisation_id=body.organisation_id,
        created_by_id=principal.id if principal.kind == "user" else None,
        url=body.url,
        description=body.description,
        event_types=sorted({t.value for t in body.event_types}),
        secret=crypto.encrypt({"secret": secret}),
        created_at=now,
        updated_at=now,
    )
    session.add(hook)
    session.flush()
    return WebhookCreated.model_validate(hook, update={"secret": secret})


def get_webhook(session: Session, principal: Principal, webhook_id: uuid.UUID) -> Webhook:
    hook = session.get(Webhook, webhook_id)
    if hook is None or not _may_manage(principal, hook.organisation_id):
        raise NotFound(f"No webhook with id {webhook_id}")
    return hook


def list_webhooks(
    session: Session,
    principal: Principal,
    organisation_id: uuid.UUID | None,
    params: PageParams,
) -> Page[WebhookPublic]:
    statement = select(Webhook)
    if not principal.is_admin:
        if not principal.admin_of:
            raise Forbidden("Webhooks are managed by organisation admins and admins")
        statement = statement.where(Webhook.organisation_id.in_(principal.admin_of))
    if organisation_id is not None:
        statement = statement.where(Webhook.organisation_id == organisation_id)
    ordered = statement.order_by(Webhook.created_at, Webhook.id)
    return paginate(session, ordered, params, WebhookPublic.model_validate)


def update_webhook(session: Session, hook: Webhook, changes: dict) -> Webhook:
    if "url" in changes:
        _check_url(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = sorted({EventType(t).value for t in changes["event_types"]})
    if changes.get("is_active") is True and not hook.is_active:
        changes |= {"consecutive_failures": 0, "disabled_at": None, "disabled_reason": None}
    hook.sqlmodel_update(changes)
    hook.updated_at = utcnow()
    session.add(hook)
    session.flush()
    return hook


def delete_webhook(session: Session, hook: Webhook) -> None:
    session.delete(hook)
    session.flush()


def ping(session: Session, hook: Webhook) -> uuid.UUID:
    """A test delivery to this webhook alone, through the worker like any other."""
    event_id = uuid.uuid4()
    emit(
        session,
        EventType.webhook_ping,
        organisation_id=hook.organisation_id,
        subject_id=hook.id,
        event_id=event_id,
        webhook_id=hook.id,
    )
    record_event(session, "ping", "webhook", hook.id, hook.organisation_id, {})
    return event_id


# --- deliveries ---------------------------------------------------------------------------


def _deliveries(session: Session, statement, params: PageParams) -> Page[DeliveryPublic]:
    ordered = statement.order_by(Delivery.created_at.desc(), Delivery.id)
    return paginate(session, ordered, params, _delivery_public)


def _delivery_public(delivery: Delivery, event_type: str) -> DeliveryPublic:
    return DeliveryPublic.model_validate(
        delivery,
        update={
            "event_type": event_type,
            "next_attempt_at": delivery.next_attempt_at
            if delivery.status is DeliveryStatus.pending
            else None,
        },
    )


def _with_type():
    return select(Delivery, OutboxEvent.type).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)


def webhook_deliveries(session: Session, hook: Webhook, params: PageParams) -> Page[DeliveryPublic]:
    return _deliveries(session, _with_type().where(Delivery.webhook_id == hook.id), params)


def failed_deliveries(session: Session, params: PageParams) -> Page[DeliveryPublic]:
    statement = _with_type().where(Delivery.status == DeliveryStatus.failed)
    return _deliveries(session, statement, params)


def retry_failed(session: Session, delivery_id: uuid.UUID) -> DeliveryPublic:
    row = session.execute(_with_type().where(Delivery.id == delivery_id)).first()
    if row is None or row[0].status is not DeliveryStatus.failed:
        raise NotFound(f"No failed delivery with id {delivery_id}")
    delivery, event_type = row
    if delivery.webhook_id is not None:
        hook = session.get(Webhook, delivery.webhook_id)
        if hook is not None and not hook.is_active:
            raise Conflict(f"Webhook {hook.id} is switched off; switch it on first")
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.failed)
        .values(
            status=DeliveryStatus.pending,
            attempts=0,
            next_attempt_at=utcnow(),
            finished_at=None,
            claimed_until=None,
            claimed_by=None,
        )
    )
    record_event(
        session,
        "retry",
        "notification_delivery",
        delivery_id,
        None,
        {"status": {"before": "failed", "after": "pending"}},
    )
    session.refresh(delivery)
    return _delivery_public(delivery, event_type)


# --- still accurate -----------------------------------------------------------------------


class LinkProblem(Exception):
    """A one-click link that cannot be used: said plainly to whoever clicked it."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _claims(token: str) -> dict:
    """The link's claims, if we signed it for this purpose and it has not expired (by
    Signpost's clock, which the sweeps that send the links also read)."""
    link = links.read(token, STILL_ACCURATE, require=("jti",))
    if link is None:
        raise LinkProblem(400, "This link is not valid")
    if link.expires <= utcnow():
        raise LinkProblem(410, "This link has expired; sign in to confirm the listing")
    return link.claims | {"activity_id": link.subject, "expires": link.expires}


def still_accurate_activity(session: Session, token: str) -> Activity:
    claims = _claims(token)
    activity = session.get(Activity, claims["activity_id"])
    if activity is None:
        raise LinkProblem(404, "This listing no longer exists")
    if session.get(UsedToken, claims["jti"][:64]) is not None:
        raise LinkProblem(409, "This link has already been used")
    return activity


def confirm_still_accurate(session: Session, token: str) -> Activity:
    """Confirm the one listing the link names, once: nothing else."""
    activity = still_accurate_activity(session, token)
    claims = _claims(token)
    used = insert_once(
        session,
        UsedToken.__table__,
        {"jti": claims["jti"][:64], "expires_at": claims["expires"]},
        ["jti"],
    )
    if not used:
        raise LinkProblem(409, "This link has already been used")
    try:
        return activities.confirm_activity(session, activity)
    except Conflict:
        raise LinkProblem(409, "This listing is archived; there is nothing to confirm") from None
