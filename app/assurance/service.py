"""Submitting, changing and reviewing assurance items; keeping the search index's
``assured_until`` in step with them."""

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from app.accounts.models import GlobalRole
from app.accounts.principal import Principal
from app.activities.models import Activity
from app.assurance import rules
from app.assurance.models import AssuranceItem, AssuranceKind, ReviewStatus
from app.assurance.schemas import (
    FACT_FIELDS,
    FACTS,
    AssuranceFacts,
    AssuranceItemCreate,
    AssuranceItemPublic,
    AssurancePublic,
    AssuranceRule,
)
from app.core.config import get_settings
from app.core.errors import Conflict, Forbidden, InvalidField, NotFound
from app.core.pagination import Page, PageParams, paginate_many
from app.core.types import utcnow
from app.core.validation import field_values, validate_merged
from app.notifications.events import EventType, emit
from app.organisations.models import Organisation
from app.organisations.visibility import is_visible
from app.search.models import ActivityFacet, ActivityPlace, lock_facet_rows
from app.vocabulary import service as vocabulary

EVIDENCE = ("evidence_reference", "evidence_note")


# --- who may do what ----------------------------------------------------------------------


def may_see_evidence(principal: Principal, organisation_id: uuid.UUID) -> bool:
    """The organisation's members, stewards and admins; link workers, commissioners and
    other organisations see statuses only."""
    return principal.can_edit_organisation(organisation_id)


def require_submitter(principal: Principal, organisation_id: uuid.UUID) -> None:
    if not (principal.is_admin or organisation_id in principal.member_of):
        raise Forbidden("Only the organisation's members (or an admin) submit its assurance")


def require_steward(principal: Principal) -> None:
    if principal.role is not GlobalRole.steward:
        raise Forbidden("Only stewards verify or reject assurance evidence")


# --- reading ------------------------------------------------------------------------------


def items_of(session: Session, organisation_ids: Iterable[uuid.UUID]) -> list[AssuranceItem]:
    wanted = set(organisation_ids)
    if not wanted:
        return []
    return list(
        session.execute(
            select(AssuranceItem)
            .where(AssuranceItem.organisation_id.in_(wanted))
            .order_by(AssuranceItem.kind, AssuranceItem.submitted_at)
        ).scalars()
    )


def levels_for(
    session: Session, organisation_ids: Iterable[uuid.UUID], today: date
) -> dict[uuid.UUID, rules.Level]:
    wanted = set(organisation_ids)
    grouped: dict[uuid.UUID, list[AssuranceItem]] = {o: [] for o in wanted}
    for item in items_of(session, wanted):
        grouped[item.organisation_id].append(item)
    return {o: rules.level_of(items, today) for o, items in grouped.items()}


def get_item(session: Session, principal: Principal, item_id: uuid.UUID) -> AssuranceItem:
    """The item, or 404 when it does not exist or its organisation is hidden from the caller."""
    item = session.get(AssuranceItem, item_id)
    organisation = session.get(Organisation, item.organisation_id) if item else None
    if item is None or organisation is None or not is_visible(organisation, principal):
        raise NotFound(f"No assurance item with id {item_id}")
    return item


def to_public(
    session: Session, principal: Principal, items: list[AssuranceItem], today: date
) -> list[AssuranceItemPublic]:
    terms = vocabulary.summaries(session, {i.training_type_id for i in items})
    public = []
    for item in items:
        shown = may_see_evidence(principal, item.organisation_id)
        values = field_values(item, AssuranceItemPublic)
        public.append(
            AssuranceItemPublic.model_validate(
                {
                    **values,
                    "status": rules.item_status(item, today),
                    "training_type": terms.get(item.training_type_id),
                    "evidence_reference": item.evidence_reference if shown else None,
                    "evidence_note": item.evidence_note if shown else None,
                }
            )
        )
    return public


def summary(
    session: Session, principal: Principal, organisation_id: uuid.UUID, today: date
) -> AssurancePublic:
    items = items_of(session, [organisation_id])
    level = rules.level_of(items, today)
    return AssurancePublic(
        organisation_id=organisation_id,
        level=level.level,
        assured_until=level.assured_until,
        missing=level.missing,
        rule=AssuranceRule(
            required=rules.required_kinds(),
            expiring_within_days=get_settings().assurance_expiring_days,
        ),
        items=to_public(session, principal, items, today),
    )


# --- writing ------------------------------------------------------------------------------


def create_item(
    session: Session,
    principal: Principal,
    organisation_id: uuid.UUID,
    data: AssuranceItemCreate,
    now: datetime,
) -> AssuranceItem:
    require_submitter(principal, organisation_id)
    values = data.model_dump(exclude={"kind"})
    _check(session, data.kind, values, now.date())
    if (
        data.kind is not AssuranceKind.training
        and session.execute(
            select(AssuranceItem.id).where(
                AssuranceItem.organisation_id == organisation_id, AssuranceItem.kind == data.kind
            )
        ).first()
    ):
        raise Conflict(
            f"The organisation already has a {data.kind} record; change it with PATCH instead"
        )
    item = AssuranceItem(
        organisation_id=organisation_id,
        kind=data.kind,
        **values,
        lapses_on=_lapses_on(data.kind, values),
        submitted_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    refresh_index(session, organisation_id)
    _announce(session, EventType.assurance_submitted, item)
    return item


def update_item(
    session: Session, item: AssuranceItem, changes: dict[str, Any], now: datetime
) -> AssuranceItem:
    """Change facts or evidence. A change to a reviewed item sends it back to ``pending``;
    the audit log keeps what was verified before."""
    merged = validate_merged(AssuranceFacts, item, changes).model_dump()
    _check(session, item.kind, merged, now.date(), keep=[item.training_type_id])
    changed = {k: v for k, v in changes.items() if getattr(item, k) != merged[k]}
    if not changed:
        return item
    item.sqlmodel_update({name: merged[name] for name in changed})
    item.lapses_on = _lapses_on(item.kind, merged)
    resubmitted = item.review_status is not ReviewStatus.pending
    if resubmitted:
        item.review_status = ReviewStatus.pending
        item.rejection_reason = None
    item.submitted_at = item.updated_at = now
    session.add(item)
    session.flush()
    refresh_index(session, item.organisation_id)
    if resubmitted:
        _announce(session, EventType.assurance_submitted, item)
    return item


def verify_item(
    session: Session, principal: Principal, item: AssuranceItem, now: datetime
) -> AssuranceItem:
    require_steward(principal)
    if item.review_status is not ReviewStatus.pending:
        raise Conflict(
            f"Assurance item {item.id} is {item.review_status}; only pending items are verified"
        )
    if item.lapses_on is not None and item.lapses_on < now.date():
        raise Conflict(
            f"Assurance item {item.id} lapsed on {item.lapses_on}; ask for current evidence"
        )
    return _review(session, principal, item, ReviewStatus.verified, None, now)


def reject_item(
    session: Session, principal: Principal, item: AssuranceItem, reason: str, now: datetime
) -> AssuranceItem:
    require_steward(principal)
    if item.review_status is ReviewStatus.rejected:
        raise Conflict(f"Assurance item {item.id} is already rejected")
    return _review(session, principal, item, ReviewStatus.rejected, reason, now)


def _review(session, principal, item, status, reason, now) -> AssuranceItem:
    item.review_status = status
    item.rejection_reason = reason
    item.reviewed_at = item.updated_at = now
    item.reviewed_by_id = principal.id
    session.add(item)
    session.flush()
    refresh_index(session, item.organisation_id)
    kind = (
        EventType.assurance_verified
        if status is ReviewStatus.verified
        else EventType.assurance_rejected
    )
    _announce(session, kind, item, reason=reason)
    return item


def _announce(session: Session, kind: EventType, item: AssuranceItem, **extra: Any) -> bool:
    return emit(
        session,
        kind,
        organisation_id=item.organisation_id,
        subject_id=item.id,
        assurance_item_id=item.id,
        kind=item.kind,
        lapses_on=item.lapses_on,
        **extra,
    )


def _check(
    session: Session,
    kind: AssuranceKind,
    values: dict[str, Any],
    today: date,
    keep: list[uuid.UUID | None] | None = None,
) -> None:
    """The kind's facts present, others absent, dates in order: else 422 naming the field.
    ``keep``: a training type already recorded stays valid once retired."""
    required, optional = FACTS[kind]
    for name in sorted(FACT_FIELDS - required - optional):
        if values.get(name) is not None:
            raise InvalidField(f"body.{name}", f"does not apply to {kind}", "not_applicable")
    needed = set(required)
    if kind in rules.POLICY_KINDS and values.get("has_policy"):
        needed |= {"last_reviewed_on", "review_due_on"}
    for name in sorted(needed):
        if values.get(name) is None:
            raise InvalidField(f"body.{name}", f"is required for {kind}", "missing")
    if kind is AssuranceKind.training:
        if values.get("staff_trained") is None and values.get("volunteers_trained") is None:
            raise InvalidField(
                "body.staff_trained", "give staff_trained or volunteers_trained", "missing"
            )
        vocabulary.load_terms(
            session,
            [values["training_type_id"]],
            "body.training_type_id",
            "training-type",
            keep=keep or (),
        )
    for name in ("last_reviewed_on", "completed_on"):
        if values.get(name) is not None and values[name] > today:
            raise InvalidField(f"body.{name}", "must not be in the future", "in_the_future")
    for later, earlier in (("review_due_on", "last_reviewed_on"), ("expires_on", "completed_on")):
        if values.get(later) and values.get(earlier) and values[later] <= values[earlier]:
            raise InvalidField(f"body.{later}", f"must be after {earlier}", "before_start")


def _lapses_on(kind: AssuranceKind, values: dict[str, Any]) -> date | None:
    if kind in rules.POLICY_KINDS:
        return values.get("review_due_on")
    return values.get("expires_on")


# --- the search index and the daily sweep ---------------------------------------------------


def assured_until_for(
    session: Session, organisation_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, date | None]:
    required = rules.required_kinds()
    grouped: dict[uuid.UUID, dict[AssuranceKind, AssuranceItem]] = {o: {} for o in organisation_ids}
    for item in items_of(session, grouped):
        if item.kind is not AssuranceKind.training:
            grouped[item.organisation_id][item.kind] = item
    return {o: rules.assured_until(by_kind, required) for o, by_kind in grouped.items()}


def refresh_index(session: Session, organisation_id: uuid.UUID) -> None:
    """An item changed: the search index's ``assured_until`` and the stored standing."""
    from app.organisations import standing  # it reads this module's items_of

    standing.mark(session, organisation_id)
    until = assured_until_for(session, [organisation_id])[organisation_id]
    activities = select(Activity.id).where(Activity.organisation_id == organisation_id)
    # The place rows carry a copy. Facet rows locked in key order, then place rows, as
    # indexing takes them (app/search/indexing._refresh_batch): another order could
    # deadlock with it.
    lock_facet_rows(session, activities)
    for facets in (ActivityFacet, ActivityPlace):
        session.execute(
            update(facets)
            .where(facets.activity_id.in_(activities))
            .values(assured_until=until)
            .execution_options(synchronize_session=False)
        )


def sweep(session: Session, today: date) -> int:
    """Record each lapse once (in the audit log). Nothing else needs redoing: statuses are
    derived from dates when read, and the search index keeps a date (``assured_until``)
    that is compared with today, so a lapse changes no stored row."""
    lapsed = session.execute(
        select(AssuranceItem).where(
            AssuranceItem.lapses_on < today, AssuranceItem.expiry_recorded_on.is_(None)
        )
    ).scalars()
    recorded = 0
    for item in lapsed:
        item.expiry_recorded_on = today
        session.add(item)
        _announce(session, EventType.assurance_expired, item)
        recorded += 1
    session.flush()
    return recorded


def warn_expiring(session: Session, today: date) -> int:
    """Tell the organisation, once per expiry date, that verified evidence lapses within
    SIGNPOST_ASSURANCE_EXPIRING_DAYS."""
    soon = today + timedelta(days=get_settings().assurance_expiring_days)
    items = session.execute(
        select(AssuranceItem).where(
            AssuranceItem.lapses_on.between(today, soon),
            AssuranceItem.review_status == ReviewStatus.verified,
        )
    ).scalars()
    return sum(
        _announce(
            session,
            EventType.assurance_expiring,
            item,
            dedupe_key=f"assurance.expiring:{item.id}:{item.lapses_on}",
        )
        for item in items
    )


def list_items(
    session: Session,
    principal: Principal,
    review_status: ReviewStatus | None,
    kind: AssuranceKind | None,
    organisation_id: uuid.UUID | None,
    params: PageParams,
) -> Page[AssuranceItemPublic]:
    statement = select(AssuranceItem)
    if review_status is not None:
        statement = statement.where(AssuranceItem.review_status == review_status)
    if kind is not None:
        statement = statement.where(AssuranceItem.kind == kind)
    if organisation_id is not None:
        statement = statement.where(AssuranceItem.organisation_id == organisation_id)
    ordered = statement.order_by(AssuranceItem.submitted_at, AssuranceItem.id)
    today = utcnow().date()
    return paginate_many(
        session,
        ordered,
        params,
        lambda items: to_public(session, principal, items, today),
    )
