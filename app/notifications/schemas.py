import uuid
from datetime import datetime

from pydantic import Field
from sqlmodel import SQLModel

from app.core.inputs import WebUrl
from app.core.pagination import Page
from app.core.schemas import PatchModel, RequestModel
from app.notifications.events import EventType, SubscribableEvent
from app.notifications.models import Channel, DeliveryMode, DeliveryStatus


class PreferencePublic(SQLModel):
    event_type: EventType
    mode: DeliveryMode = Field(
        description="`immediately`: an email each time; `daily_digest`: one email a day "
        "listing them; `off`: no email"
    )
    description: str
    applies_to_you: bool = Field(
        description="Whether your roles make you a recipient of this kind at all"
    )


class NotificationPreferences(SQLModel):
    preferences: list[PreferencePublic]


class PreferenceChange(RequestModel):
    event_type: EventType
    mode: DeliveryMode


class PreferencesUpdate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "preferences": [
                        {"event_type": "referral.created", "mode": "immediately"},
                        {"event_type": "capacity.changed", "mode": "off"},
                        {"event_type": "activity.review_due", "mode": "daily_digest"},
                    ]
                }
            ]
        }
    }

    preferences: list[PreferenceChange] = Field(
        min_length=1, max_length=len(EventType), description="Kinds not listed stay as they are"
    )


class WebhookCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "url": "https://crm.example.org/hooks/signpost",
                    "event_types": ["referral.created", "referral.status_changed"],
                    "organisation_id": "5b0f6c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e",
                    "description": "Our case management system",
                }
            ]
        }
    }

    url: WebUrl = Field(description="https:// endpoint that receives signed JSON POSTs")
    event_types: list[SubscribableEvent] = Field(min_length=1, max_length=len(SubscribableEvent))
    organisation_id: uuid.UUID | None = Field(
        default=None,
        description="Hear of events about this organisation (its admins). Admins may leave "
        "it out to hear of every event.",
    )
    description: str = Field(default="", max_length=200)


class WebhookUpdate(PatchModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"is_active": True}, {"event_types": ["referral.created"]}]
        }
    }

    url: WebUrl | None = None
    event_types: list[SubscribableEvent] | None = Field(
        default=None, min_length=1, max_length=len(SubscribableEvent)
    )
    description: str | None = Field(default=None, max_length=200)
    is_active: bool | None = Field(
        default=None, description="`true` switches a disabled webhook back on"
    )


class WebhookPublic(SQLModel):
    id: uuid.UUID
    organisation_id: uuid.UUID | None
    url: str
    description: str
    event_types: list[str]
    is_active: bool
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="Signing secret (Standard Webhooks, `whsec_…`). Shown only now: keep "
        "it to verify `webhook-signature` on every delivery."
    )


WebhookPage = Page[WebhookPublic]


class DeliveryPublic(SQLModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    channel: Channel
    webhook_id: uuid.UUID | None
    user_id: uuid.UUID | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next, if pending")
    last_error: str | None = Field(description="Why the last attempt failed")
    response_status: int | None = Field(description="The endpoint's HTTP status, if any")
    created_at: datetime
    finished_at: datetime | None


DeliveryPage = Page[DeliveryPublic]


class PingAccepted(SQLModel):
    event_id: uuid.UUID
    deliveries_url: str = Field(description="Where the ping's delivery shows up")
