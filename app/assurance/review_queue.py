"""What an organisation needs to look at: stale listings, assurance that is expiring,
expired, rejected or missing. Statuses are derived as of now, so the queue is current
whether or not the daily sweep has run."""

import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlmodel import Field, Session, SQLModel

from app.activities.freshness import FreshnessStatus, freshness
from app.activities.models import Activity
from app.assurance import rules
from app.assurance.service import items_of
from app.core.config import get_settings
from app.support import service as support


class QueueEntryType(StrEnum):
    activity_stale = "activity_stale"
    activity_due_for_review = "activity_due_for_review"
    assurance_expired = "assurance_expired"
    assurance_rejected = "assurance_rejected"
    assurance_missing = "assurance_missing"
    assurance_expiring = "assurance_expiring"
    support_suggested = "support_suggested"


# Most urgent first.
ORDER = list(QueueEntryType)


class QueueEntry(SQLModel):
    type: QueueEntryType
    subject_type: str = Field(description="activity, assurance_item, assurance or support_category")
    subject_id: uuid.UUID | None = Field(description="The activity or item; null for missing")
    title: str
    due_on: date | None = Field(description="When it lapsed or lapses, or was due for review")
    action: str = Field(description="What to do about it")


class ReviewQueue(SQLModel):
    organisation_id: uuid.UUID
    generated_at: datetime
    total: int
    entries: list[QueueEntry]


def review_queue(session: Session, organisation_id: uuid.UUID, now: datetime) -> ReviewQueue:
    entries: list[QueueEntry] = []
    due_before = now - timedelta(days=get_settings().review_due_days)
    for activity_id, name, confirmed in session.execute(
        select(Activity.id, Activity.name, Activity.last_confirmed_at).where(
            Activity.organisation_id == organisation_id,
            Activity.archived_at.is_(None),
            Activity.last_confirmed_at < due_before,
        )
    ):
        state = freshness(confirmed, now)
        kind = (
            QueueEntryType.activity_stale
            if state.status is FreshnessStatus.stale
            else QueueEntryType.activity_due_for_review
        )
        action = "Check it and confirm it (POST /v1/activities/{id}/confirm) or update it"
        if not state.in_referral_search:
            action += "; it no longer appears in referral search until you do"
        entries.append(
            QueueEntry(
                type=kind,
                subject_type="activity",
                subject_id=activity_id,
                title=name,
                due_on=state.review_due_at.date(),
                action=action,
            )
        )
    today = now.date()
    items = items_of(session, [organisation_id])
    for item in items:
        status = rules.item_status(item, today)
        entry_type = {
            rules.ItemStatus.expired: QueueEntryType.assurance_expired,
            rules.ItemStatus.rejected: QueueEntryType.assurance_rejected,
            rules.ItemStatus.expiring: QueueEntryType.assurance_expiring,
        }.get(status)
        if entry_type is None:
            continue
        action = {
            QueueEntryType.assurance_expired: "Send current evidence",
            QueueEntryType.assurance_rejected: f"Rejected: {item.rejection_reason}",
            QueueEntryType.assurance_expiring: "Renew it and send the new evidence",
        }[entry_type]
        entries.append(
            QueueEntry(
                type=entry_type,
                subject_type="assurance_item",
                subject_id=item.id,
                title=str(item.kind).replace("_", " "),
                due_on=item.lapses_on,
                action=action,
            )
        )
    for kind in rules.level_of(items, today).missing:
        entries.append(
            QueueEntry(
                type=QueueEntryType.assurance_missing,
                subject_type="assurance",
                subject_id=None,
                title=str(kind).replace("_", " "),
                due_on=None,
                action="Add it: it is needed to be assured",
            )
        )
    for suggestion in support.suggestions(session, organisation_id, now):
        entries.append(
            QueueEntry(
                type=QueueEntryType.support_suggested,
                subject_type="support_category",
                subject_id=suggestion.category.id,
                title=suggestion.category.name,
                due_on=None,
                action=f"{suggestion.reason.capitalize()}. If you would like help, flag a "
                "support need in this category (POST /v1/organisations/{id}/support-needs); "
                "nothing is flagged for you",
            )
        )
    entries.sort(key=lambda e: (ORDER.index(e.type), e.due_on or date.max, e.title))
    return ReviewQueue(
        organisation_id=organisation_id, generated_at=now, total=len(entries), entries=entries
    )
