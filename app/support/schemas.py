import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field
from sqlmodel import SQLModel

from app.core.pagination import Page
from app.core.schemas import RequestModel
from app.organisations.schemas import OrganisationSummary
from app.support.models import NeedStatus, NeedVisibility, Urgency
from app.vocabulary.schemas import TermSummary


class SupportNeedCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "category_id": "0c9d2b1e-7f3a-4e5b-9c8d-1a2b3c4d5e6f",
                    "urgency": "high",
                    "description": "Two of our three volunteers left; we are turning people "
                    "away and need help recruiting.",
                    "visibility": "peers",
                }
            ]
        }
    }

    category_id: uuid.UUID = Field(description="A term of the `support-category` vocabulary")
    urgency: Urgency
    description: str = Field(min_length=1, max_length=2000)
    visibility: NeedVisibility = Field(
        default=NeedVisibility.responders,
        description="`responders`: stewards and commissioners only; `peers`: other "
        "organisations too, so they can offer help",
    )


class NeedTransition(RequestModel):
    model_config = {"json_schema_extra": {"examples": [{"status": "acknowledged"}]}}

    status: Literal["acknowledged", "in_progress", "resolved", "closed"]


class MessageCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"body": "Thanks — our volunteer centre can help; I'll call Tuesday."}]
        }
    }

    body: str = Field(min_length=1, max_length=2000)


class MessagePublic(SQLModel):
    id: uuid.UUID
    author_id: uuid.UUID | None
    author_side: str = Field(description="`organisation` or `responder`")
    body: str
    created_at: datetime


class SupportNeedPublic(SQLModel):
    id: uuid.UUID
    organisation: OrganisationSummary
    category: TermSummary
    urgency: Urgency
    description: str
    visibility: NeedVisibility
    status: NeedStatus
    handler_id: uuid.UUID | None = Field(description="Who (a steward or commissioner) handles it")
    created_at: datetime
    acknowledged_at: datetime | None
    in_progress_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    waiting_days: int = Field(description="Days since it was raised, or until it was closed")
    messages: list[MessagePublic] | None = Field(
        description="The thread; null for peer organisations, who see the need only"
    )
    version: int


class SupportNeedPage(Page[SupportNeedPublic]):
    """One page of support needs."""


class SupportOfferCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "category_id": "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716",
                    "description": "We can mentor on safeguarding policies; our hall is free "
                    "on Tuesdays.",
                }
            ]
        }
    }

    category_id: uuid.UUID = Field(description="A term of the `support-category` vocabulary")
    description: str = Field(min_length=1, max_length=1000)


class SupportOfferPublic(SQLModel):
    id: uuid.UUID
    organisation: OrganisationSummary
    category: TermSummary
    description: str
    created_at: datetime
    withdrawn_at: datetime | None


class SupportOfferPage(Page[SupportOfferPublic]):
    """One page of peer offers."""


class SupportMatch(SQLModel):
    offer: SupportOfferPublic
    distance_km: float | None = Field(
        description="Between the nearest venues of the two organisations; null if either "
        "has no located venue"
    )


class SupportMatches(SQLModel):
    need_id: uuid.UUID
    category: TermSummary
    matches: list[SupportMatch]
