import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints
from sqlmodel import SQLModel

from app.assurance.models import AssuranceKind, DbsApproach, ReviewStatus
from app.assurance.rules import AssuranceLevel, ItemStatus
from app.core.inputs import Day
from app.core.pagination import Page
from app.core.schemas import RequestModel, patch_model_of
from app.vocabulary.schemas import TermSummary

# ICO data protection registration numbers: "Z" then a letter or digit, then six digits.
IcoNumber = Annotated[str, StringConstraints(pattern=r"^Z[A-Z0-9][0-9]{6}$", max_length=8)]
EvidenceReference = Annotated[
    str, StringConstraints(pattern=r"^\S+$", min_length=1, max_length=500)
]

# Which facts each kind takes (required, optional); anything else is refused.
FACTS: dict[AssuranceKind, tuple[frozenset[str], frozenset[str]]] = {
    AssuranceKind.safeguarding_policy: (
        frozenset({"has_policy"}),
        frozenset({"last_reviewed_on", "review_due_on"}),
    ),
    AssuranceKind.data_protection_policy: (
        frozenset({"has_policy"}),
        frozenset({"last_reviewed_on", "review_due_on"}),
    ),
    AssuranceKind.safeguarding_lead: (frozenset({"role_title"}), frozenset()),
    AssuranceKind.dbs_checks: (frozenset({"dbs_approach"}), frozenset()),
    AssuranceKind.public_liability_insurance: (
        frozenset({"insurer", "expires_on"}),
        frozenset({"cover_amount"}),
    ),
    AssuranceKind.ico_registration: (
        frozenset({"registration_number"}),
        frozenset({"expires_on"}),
    ),
    AssuranceKind.training: (
        frozenset({"training_type_id", "completed_on"}),
        frozenset({"staff_trained", "volunteers_trained", "expires_on"}),
    ),
}
FACT_FIELDS = frozenset().union(*(required | optional for required, optional in FACTS.values()))


class AssuranceFacts(RequestModel):
    has_policy: bool | None = Field(default=None, description="Policies: do you have one?")
    last_reviewed_on: Day | None = Field(default=None, description="Policies")
    review_due_on: Day | None = Field(default=None, description="Policies: next review")
    role_title: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description='Safeguarding lead: a role, never a name (e.g. "Volunteer coordinator")',
    )
    dbs_approach: DbsApproach | None = Field(default=None, description="DBS checks")
    insurer: str | None = Field(default=None, min_length=1, max_length=200)
    cover_amount: int | None = Field(
        default=None, ge=0, le=1_000_000_000, description="Insurance: cover in pounds"
    )
    registration_number: IcoNumber | None = Field(
        default=None, description='ICO registration, e.g. "ZA123456"'
    )
    training_type_id: uuid.UUID | None = Field(
        default=None, description="Training: a term from the `training-type` vocabulary"
    )
    staff_trained: int | None = Field(default=None, ge=0, le=100_000)
    volunteers_trained: int | None = Field(default=None, ge=0, le=100_000)
    completed_on: Day | None = Field(default=None, description="Training")
    expires_on: Day | None = Field(default=None, description="Insurance, ICO, training")
    evidence_reference: EvidenceReference | None = Field(
        default=None, description="A URL or document id where the evidence is kept"
    )
    evidence_note: str = Field(default="", max_length=1000)


class AssuranceItemCreate(AssuranceFacts):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "public_liability_insurance",
                    "insurer": "Community Mutual",
                    "cover_amount": 5000000,
                    "expires_on": "2027-09-30",
                    "evidence_reference": "https://docs.example.org/insurance-2026.pdf",
                },
                {
                    "kind": "training",
                    "training_type_id": "6a1f0c3e-2b7d-4e9a-8c5f-1d2e3f4a5b6c",
                    "staff_trained": 2,
                    "volunteers_trained": 6,
                    "completed_on": "2026-03-14",
                    "expires_on": "2029-03-14",
                },
            ]
        }
    }

    kind: AssuranceKind


AssuranceItemUpdate = patch_model_of(
    AssuranceFacts,
    "AssuranceItemUpdate",
    examples=[{"expires_on": "2028-09-30", "evidence_reference": "DOC-2027-114"}],
)


class Rejection(RequestModel):
    model_config = {
        "json_schema_extra": {
            "examples": [{"reason": "The certificate shows the 2025 policy; please upload 2026's"}]
        }
    }

    reason: str = Field(min_length=1, max_length=1000, description="What is missing or wrong")


class AssuranceItemPublic(SQLModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    kind: AssuranceKind
    status: ItemStatus = Field(description="Derived from dates and review, as of today")
    has_policy: bool | None
    last_reviewed_on: date | None
    review_due_on: date | None
    role_title: str | None
    dbs_approach: DbsApproach | None
    insurer: str | None
    cover_amount: int | None
    registration_number: str | None
    training_type: TermSummary | None
    staff_trained: int | None
    volunteers_trained: int | None
    completed_on: date | None
    expires_on: date | None
    lapses_on: date | None = Field(description="After this day the item no longer counts")
    evidence_reference: str | None = Field(
        description="Only for the organisation's members, stewards and admins; else null"
    )
    evidence_note: str | None = Field(description="As evidence_reference")
    review_status: ReviewStatus
    rejection_reason: str | None
    reviewed_at: datetime | None
    submitted_at: datetime
    updated_at: datetime
    version: int


class AssuranceRule(SQLModel):
    required: list[AssuranceKind]
    expiring_within_days: int


class AssurancePublic(SQLModel):
    organisation_id: uuid.UUID
    level: AssuranceLevel
    assured_until: date | None = Field(description="When assured: the earliest lapse")
    missing: list[AssuranceKind] = Field(description="Required kinds with no current record")
    rule: AssuranceRule
    items: list[AssuranceItemPublic]


class AssuranceItemPage(Page[AssuranceItemPublic]):
    """One page of assurance items."""
