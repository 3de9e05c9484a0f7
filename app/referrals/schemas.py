import re
import uuid
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field, field_validator, model_validator
from sqlmodel import SQLModel

from app.accounts.models import GlobalRole
from app.core.pagination import Page
from app.core.schemas import Phone, RequestModel
from app.organisations.schemas import OrganisationSummary
from app.referrals.models import DeclineReason, Ons4, ReferralStatus
from app.vocabulary.schemas import TermSummary

# Ten digits, however spaced or hyphenated ("943 476 5919"), look like an NHS number.
_NHS_NUMBER_LIKE = re.compile(r"\d{10}")
SNOMED = "http://snomed.info/sct"


class ContactDetails(RequestModel):
    """The least the provider needs to get in touch: a first name and one way to reach."""

    first_name: str = Field(min_length=1, max_length=50)
    phone: Phone | None = None
    email: EmailStr | None = Field(default=None, max_length=254)
    preferred_contact_time: str = Field(
        default="", max_length=100, description='e.g. "weekday mornings"'
    )

    @model_validator(mode="after")
    def _reachable(self):
        if self.phone is None and self.email is None:
            raise ValueError("give a phone number or an email address")
        return self


class Ons4Answers(RequestModel, Ons4):
    """The person's answers to the four ONS personal wellbeing questions, each 0 to 10."""

    model_config = {
        "json_schema_extra": {
            "examples": [{"life_satisfaction": 4, "worthwhile": 5, "happiness": 3, "anxiety": 7}]
        }
    }


class ReferralCreate(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "activity_id": "0b6f1a52-3c1e-4b6e-9d7a-2f1e6c3b9a10",
                    "person_reference": "LW-2291",
                    "need_ids": ["7d0c2f9e-51a4-4c8e-b1f0-3a9e2d6c8b41"],
                    "consent_confirmed": True,
                    "contact": {
                        "first_name": "Sam",
                        "phone": "07700 900123",
                        "preferred_contact_time": "weekday mornings",
                    },
                    "note": "Prefers a quieter group to start with.",
                }
            ]
        }
    }

    activity_id: uuid.UUID
    person_reference: str = Field(
        min_length=1,
        max_length=64,
        description="The link worker's own pseudonymous reference for the person; never "
        "an NHS number",
    )
    need_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=10, description="Terms from the `need` vocabulary"
    )
    consent_confirmed: bool = Field(
        description="Must be true: the person agreed to be referred and to share these details"
    )
    contact: ContactDetails
    note: str = Field(default="", max_length=1000)
    wellbeing: Ons4Answers | None = Field(
        default=None,
        description="ONS4 answers at referral, kept as the baseline outcomes are measured "
        "against (or PUT /v1/referrals/{id}/wellbeing/baseline later)",
    )

    @field_validator("person_reference")
    @classmethod
    def _not_an_nhs_number(cls, value: str) -> str:
        if _NHS_NUMBER_LIKE.search(re.sub(r"[\s-]", "", value)):
            raise ValueError(
                "looks like an NHS number; use your own pseudonymous reference instead"
            )
        return value

    @field_validator("consent_confirmed")
    @classmethod
    def _consented(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("must be true: refer only with the person's consent")
        return value


TransitionTarget = Literal[
    "accepted", "declined", "waitlisted", "attended", "did_not_attend", "completed", "withdrawn"
]


class ReferralTransition(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {"status": "accepted"},
                {"status": "declined", "reason": "not_eligible", "note": "Over 25s only."},
                {"status": "withdrawn", "note": "Person found another group."},
            ]
        }
    }

    status: TransitionTarget = Field(description="The state to move the referral to")
    reason: DeclineReason | None = Field(
        default=None, description="Why it was declined (required with `declined` only)"
    )
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _reason_with_decline(self):
        if self.status == "declined" and self.reason is None:
            raise ValueError("reason is required when declining")
        if self.status != "declined" and self.reason is not None:
            raise ValueError("reason goes with declined only")
        return self


class Coding(SQLModel):
    system: str = SNOMED
    code: str
    display: str


REFERRAL_CODING = Coding(code="871731000000106", display="Referral to social prescribing service")
DECLINE_CODING = Coding(code="871711000000103", display="Social prescribing declined")


class ActivityRef(SQLModel):
    id: uuid.UUID
    name: str


class Referrer(SQLModel):
    """Who sent a referral, so the provider can reach them: a professional's work details,
    nothing of the person referred."""

    id: uuid.UUID
    display_name: str
    role: GlobalRole | None
    email: str | None = Field(description="Their work email (what they sign in with)")


class ReferralSummary(SQLModel):
    """A referral without personal data of the person referred: what lists show."""

    id: uuid.UUID
    activity: ActivityRef
    organisation: OrganisationSummary
    status: ReferralStatus
    decline_reason: DeclineReason | None
    needs: list[TermSummary]
    created_at: datetime
    respond_by: datetime = Field(description="When it expires if the provider has not answered")
    status_changed_at: datetime
    first_response_at: datetime | None
    closed_at: datetime | None
    coding: list[Coding] = Field(
        description="SNOMED CT concepts for the GP record: the referral, and the decline if "
        "declined"
    )
    referrer: Referrer | None = Field(
        None, description="Who sent it; null when their account has been deleted"
    )
    person_reference: str | None = Field(
        None,
        description="The link worker's own reference for the person: shown to the referrer "
        "and their team-mates (each showing audited); null to others and once purged",
    )


class ContactPublic(SQLModel):
    first_name: str
    phone: str | None
    email: str | None
    preferred_contact_time: str


class ReferralEventPublic(SQLModel):
    occurred_at: datetime
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    actor_type: str = Field(description="user, api_key or system")
    actor_id: uuid.UUID | None
    actor_name: str | None = Field(
        None, description="Their display name (an API key's name; Signpost for the system)"
    )
    actor_role: str | None = Field(
        None,
        description="Their Signpost role, or their role in the receiving organisation",
    )
    reason: str | None
    note: str | None = Field(description="Null once purged")


class ReferralPublic(ReferralSummary):
    """A referral in full, for the referring link worker, the receiving organisation and
    admins; each read of the personal data is recorded in the audit log."""

    contact: ContactPublic | None = Field(description="Null once purged")
    note: str | None = Field(description="Null once purged")
    purged_at: datetime | None = Field(
        description="When personal data was deleted after the retention period"
    )
    holds_place: bool = Field(description="True while an accepted referral holds a place")
    history: list[ReferralEventPublic]


class ReferralPage(Page[ReferralSummary]):
    """One page of referrals (no personal data)."""
