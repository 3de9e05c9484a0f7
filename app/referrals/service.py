"""Sending referrals, answering them, and closing the loop.

Each status change is one conditional UPDATE (``… WHERE id = :id AND status = :from``), so
two people answering the same referral at once cannot both succeed; the capacity change it
implies (app/capacity/service.py) runs in the same transaction and, if refused, undoes it.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, true, update
from sqlmodel import Session

from app.accounts.models import ApiKey, GlobalRole, Membership, User
from app.accounts.principal import Principal
from app.activities import service as activities
from app.activities.models import AccessMode, Activity, ActivityStatus
from app.audit.recorder import REDACTED, record_event, record_read
from app.capacity import service as capacity
from app.capacity.models import ActivityCapacity, CapacityStatus, PlaceRelease
from app.core import crypto
from app.core.config import get_settings
from app.core.errors import Conflict, Forbidden, InvalidField, NotFound
from app.core.pagination import Page, PageParams, paginate_many
from app.notifications.events import EventType, emit
from app.organisations import service as organisation_service
from app.organisations import standing
from app.referrals import person, wellbeing
from app.referrals.models import (
    Referral,
    ReferralEvent,
    ReferralNeed,
    ReferralStatus,
    WellbeingStage,
)
from app.referrals.schemas import (
    DECLINE_CODING,
    REFERRAL_CODING,
    ActivityRef,
    ContactPublic,
    ReferralCreate,
    ReferralEventPublic,
    ReferralPublic,
    ReferralSummary,
    ReferralTransition,
    Referrer,
)
from app.teams import service as teams
from app.vocabulary import service as vocabulary

S = ReferralStatus
TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    S.sent: frozenset({S.accepted, S.declined, S.waitlisted, S.withdrawn, S.expired}),
    S.waitlisted: frozenset({S.accepted, S.declined, S.withdrawn}),
    S.accepted: frozenset({S.attended, S.did_not_attend, S.withdrawn}),
    S.attended: frozenset({S.completed, S.withdrawn}),
    S.did_not_attend: frozenset({S.completed, S.withdrawn}),
}
CLOSED = frozenset({S.declined, S.expired, S.completed, S.withdrawn})
FIRST_RESPONSES = frozenset({S.accepted, S.declined, S.waitlisted})
PERSONAL_FIELDS = ["person_reference", "contact", "note"]
_table = Referral.__table__


# --- who may do what ----------------------------------------------------------------------


def _is_referrer(principal: Principal, referral: Referral) -> bool:
    """The link worker who sent it, or one of their team-mates, while they still are link
    workers: losing the role ends their access to its personal data at once, as
    deactivating their account does."""
    return (
        principal.kind == "user"
        and principal.role is GlobalRole.link_worker
        and referral.referrer_id in {principal.id, *principal.teammates}
    )


def can_read(principal: Principal, referral: Referral) -> bool:
    """The referring link worker, the receiving organisation's members, and admins."""
    return (
        principal.is_admin
        or _is_referrer(principal, referral)
        or referral.organisation_id in principal.member_of
    )


def visible_to(principal: Principal) -> ColumnElement[bool]:
    if principal.is_admin:
        return true()
    scopes = []
    if principal.kind == "user" and principal.role is GlobalRole.link_worker:
        scopes.append(Referral.referrer_id.in_({principal.id, *principal.teammates}))
    if principal.member_of:
        scopes.append(Referral.organisation_id.in_(principal.member_of))
    if not scopes:
        raise Forbidden(
            "Referrals are for the link workers who send them, the organisations that "
            "receive them, and admins"
        )
    return or_(*scopes)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralFilters:
    statuses: tuple[ReferralStatus, ...] = ()
    organisation_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
    need_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    changed_since: datetime | None = None
    awaiting_response: bool | None = None
    person: str | None = None  # the link worker's own reference for the person


def list_referrals(
    session: Session, principal: Principal, filters: ReferralFilters, params: PageParams
) -> Page[ReferralSummary]:
    statement = select(Referral).where(visible_to(principal))
    if filters.statuses:
        statement = statement.where(Referral.status.in_(filters.statuses))
    if filters.organisation_id:
        statement = statement.where(Referral.organisation_id == filters.organisation_id)
    if filters.activity_id:
        statement = statement.where(Referral.activity_id == filters.activity_id)
    if filters.need_id:
        statement = statement.where(
            Referral.id.in_(
                select(ReferralNeed.referral_id).where(ReferralNeed.term_id == filters.need_id)
            )
        )
    if filters.created_after:
        statement = statement.where(Referral.created_at >= filters.created_after)
    if filters.created_before:
        statement = statement.where(Referral.created_at < filters.created_before)
    if filters.changed_since:
        statement = statement.where(Referral.status_changed_at > filters.changed_since)
    if filters.awaiting_response is not None:
        awaiting = Referral.status == S.sent
        statement = statement.where(awaiting if filters.awaiting_response else ~awaiting)
    if filters.person is not None:
        statement = statement.where(
            Referral.person_ref_hash == person.reference_hash(filters.person)
        )
    ordered = statement.order_by(Referral.created_at.desc(), Referral.id)
    return paginate_many(
        session, ordered, params, lambda items: _summaries(session, items, principal)
    )


def get_readable(session: Session, principal: Principal, referral_id: uuid.UUID) -> Referral:
    """The referral, or 404 when it does not exist *or* the caller may not read it."""
    referral = session.get(Referral, referral_id)
    if referral is None or not can_read(principal, referral):
        raise NotFound(f"No referral with id {referral_id}")
    return referral


def to_public(session: Session, referral: Referral) -> ReferralPublic:
    """The full referral. Reading the personal data is recorded in the audit log."""
    summary = _summaries(session, [referral])[0]
    personal = crypto.decrypt(referral.personal_data) if referral.personal_data else None
    events = session.execute(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.occurred_at, ReferralEvent.id)
    ).scalars()
    events = list(events)
    actors = _actors(session, events, referral.organisation_id)
    history = [
        ReferralEventPublic(
            occurred_at=event.occurred_at,
            from_status=event.from_status,
            to_status=event.to_status,
            actor_type=event.actor_type,
            actor_id=event.actor_id,
            actor_name=actors.get(event.actor_id, (None, None))[0]
            if event.actor_type != "system"
            else "Signpost",
            actor_role=actors.get(event.actor_id, (None, None))[1],
            reason=event.reason,
            note=crypto.decrypt(event.note)["note"] if event.note else None,
        )
        for event in events
    ]
    if personal is not None:
        record_read(session, "referral", referral.id, referral.organisation_id, PERSONAL_FIELDS)
    return ReferralPublic(
        **summary.model_dump(exclude={"person_reference"}),
        person_reference=personal["person_reference"] if personal else None,
        contact=ContactPublic(**personal["contact"]) if personal else None,
        note=personal["note"] if personal else None,
        purged_at=referral.purged_at,
        holds_place=referral.holds_place,
        history=history,
    )


def _actors(
    session: Session, events: list[ReferralEvent], organisation_id: uuid.UUID
) -> dict[uuid.UUID, tuple[str, str | None]]:
    """Who acted on a referral, by id: (display name, role), where the role is their
    Signpost role or, for the receiving organisation's people, their role there."""
    user_ids = {e.actor_id for e in events if e.actor_type == "user" and e.actor_id}
    key_ids = {e.actor_id for e in events if e.actor_type == "api_key" and e.actor_id}
    found: dict[uuid.UUID, tuple[str, str | None]] = {}
    if user_ids:
        roles = dict(
            session.execute(
                select(Membership.user_id, Membership.role).where(
                    Membership.user_id.in_(user_ids),
                    Membership.organisation_id == organisation_id,
                )
            ).all()
        )
        for user in session.scalars(select(User).where(User.id.in_(user_ids))):
            role = user.role or roles.get(user.id)
            found[user.id] = (user.display_name, str(role) if role else None)
    if key_ids:
        for key in session.scalars(select(ApiKey).where(ApiKey.id.in_(key_ids))):
            role = key.role or key.organisation_role
            found[key.id] = (key.name, str(role) if role else None)
    return found


def first_name(session: Session, referral: Referral) -> str | None:
    """The person's first name, for their summary (None once purged); an audited read."""
    if not referral.personal_data:
        return None
    record_read(session, "referral", referral.id, referral.organisation_id, ["contact"])
    return crypto.decrypt(referral.personal_data)["contact"]["first_name"]


def hand_over(
    session: Session, principal: Principal, referral: Referral, to_user_id: uuid.UUID
) -> Referral:
    if not (principal.is_admin or _is_referrer(principal, referral)):
        raise Forbidden("Only the referrer, their team-mates and admins hand a referral over")
    colleague = session.get(User, to_user_id)
    shared = teams.teammates(session, referral.referrer_id) if referral.referrer_id else set()
    if (
        colleague is None
        or not colleague.is_active
        or colleague.role is not GlobalRole.link_worker
        or colleague.id not in shared
    ):
        raise InvalidField(
            "body.to_user_id", "must be an active link worker in the referrer's team", "colleague"
        )
    before = referral.referrer_id
    referral.referrer_id = colleague.id
    session.add(referral)
    session.flush()
    record_event(
        session,
        "update",
        "referral",
        referral.id,
        referral.organisation_id,
        {"referrer_id": {"before": str(before) if before else None, "after": str(colleague.id)}},
    )
    return referral


def _summaries(
    session: Session, referrals: list[Referral], principal: Principal | None = None
) -> list[ReferralSummary]:
    """``principal``: who lists them; a link worker (the referrer or a team-mate) sees
    each person's reference, and each one shown is an audited read."""
    if not referrals:
        return []
    references: dict[uuid.UUID, str] = {}
    for referral in referrals:
        if principal and referral.personal_data and _is_referrer(principal, referral):
            references[referral.id] = crypto.decrypt(referral.personal_data)["person_reference"]
            record_read(
                session, "referral", referral.id, referral.organisation_id, ["person_reference"]
            )
    referrers = {
        user.id: Referrer(
            id=user.id, display_name=user.display_name, role=user.role, email=user.email
        )
        for user in session.scalars(
            select(User).where(User.id.in_({r.referrer_id for r in referrals if r.referrer_id}))
        )
    }
    ids = [r.id for r in referrals]
    activity_names = dict(
        session.execute(
            select(Activity.id, Activity.name).where(
                Activity.id.in_({r.activity_id for r in referrals})
            )
        ).all()
    )
    organisations = organisation_service.summaries(session, {r.organisation_id for r in referrals})
    links = session.execute(
        select(ReferralNeed.referral_id, ReferralNeed.term_id).where(
            ReferralNeed.referral_id.in_(ids)
        )
    ).all()
    terms = vocabulary.summaries(session, {term_id for _, term_id in links})
    needs: dict[uuid.UUID, list] = {}
    for referral_id, term_id in links:
        needs.setdefault(referral_id, []).append(terms[term_id])
    return [
        ReferralSummary(
            id=r.id,
            activity=ActivityRef(id=r.activity_id, name=activity_names[r.activity_id]),
            organisation=organisations[r.organisation_id],
            status=r.status,
            decline_reason=r.decline_reason,
            needs=sorted(needs.get(r.id, []), key=lambda t: t.name),
            created_at=r.created_at,
            respond_by=r.respond_by,
            status_changed_at=r.status_changed_at,
            first_response_at=r.first_response_at,
            closed_at=r.closed_at,
            coding=[REFERRAL_CODING, DECLINE_CODING]
            if r.status is S.declined
            else [REFERRAL_CODING],
            referrer=referrers.get(r.referrer_id),
            person_reference=references.get(r.id),
        )
        for r in referrals
    ]


# --- sending ------------------------------------------------------------------------------


def create_referral(
    session: Session, principal: Principal, data: ReferralCreate, now: datetime
) -> Referral:
    if not (principal.kind == "user" and principal.role is GlobalRole.link_worker):
        raise Forbidden("Referrals are sent by signed-in link workers")
    activity = session.execute(
        select(Activity).where(Activity.id == data.activity_id, activities.visible_to(principal))
    ).scalar_one_or_none()
    if activity is None:
        raise InvalidField("body.activity_id", "no activity has this id", "unknown_id")
    if activity.archived_at is not None:
        raise Conflict(f"Activity {activity.id} is archived; it takes no referrals")
    if activity.status is not ActivityStatus.active:
        raise Conflict(f"Activity {activity.id} is {activity.status}; it takes no referrals")
    if AccessMode.referral not in activity.access_modes:
        raise Conflict(
            f"Activity {activity.id} does not take referrals "
            f"(access: {', '.join(activity.access_modes) or 'none'})"
        )
    needs = vocabulary.load_terms(session, data.need_ids, "body.need_ids", "need")
    intake = capacity.take_referral(session, activity.id, now)
    status = S.sent if intake is CapacityStatus.open else S.waitlisted
    referral = Referral(
        activity_id=activity.id,
        organisation_id=activity.organisation_id,
        referrer_id=principal.id,
        status=status,
        created_at=now,
        respond_by=now + timedelta(days=get_settings().referral_response_days),
        status_changed_at=now,
        consent_confirmed_at=now,
        person_ref_hash=person.reference_hash(data.person_reference),
        personal_data=crypto.encrypt(
            {
                "person_reference": data.person_reference,
                "contact": data.contact.model_dump(),
                "note": data.note or None,
            }
        ),
    )
    session.add(referral)
    session.flush()
    session.add_all(ReferralNeed(referral_id=referral.id, term_id=term.id) for term in needs)
    if data.wellbeing is not None:
        wellbeing.record(
            session, principal, referral, WellbeingStage.baseline, data.wellbeing, None
        )
    _add_event(
        session,
        principal,
        referral,
        None,
        status,
        now,
        reason=None if status is S.sent else "activity_waitlist",
    )
    session.flush()
    return referral


# --- answering ----------------------------------------------------------------------------


def transition(
    session: Session,
    principal: Principal,
    referral: Referral,
    change: ReferralTransition,
    now: datetime,
) -> Referral:
    target = S(change.status)
    current = referral.status
    if target is S.withdrawn:
        if not (principal.is_admin or _is_referrer(principal, referral)):
            raise Forbidden("Only the referring link worker (or an admin) withdraws a referral")
    elif not (principal.is_admin or referral.organisation_id in principal.member_of):
        raise Forbidden("Only the receiving organisation (or an admin) answers a referral")
    if target not in TRANSITIONS.get(current, frozenset()):
        raise _illegal(referral.id, current, target)

    settings = session.get(ActivityCapacity, referral.activity_id)
    releases = settings is not None and target in {
        PlaceRelease(p) for p in settings.release_places_on
    }
    release_place = referral.holds_place and releases
    values = {"status": target, "status_changed_at": now}
    if target in FIRST_RESPONSES and referral.first_response_at is None:
        values["first_response_at"] = now
    if target is S.accepted:
        values |= {"accepted_at": now, "holds_place": True}
    if release_place:
        values["holds_place"] = False
    if target is S.declined:
        values["decline_reason"] = change.reason
    if target in CLOSED:
        values["closed_at"] = now
    moved = session.execute(
        update(_table)
        .where(_table.c.id == referral.id, _table.c.status == current)
        .values(**values)
    ).rowcount
    if moved != 1:
        session.refresh(referral)
        raise _illegal(referral.id, referral.status, target, meanwhile=True)
    capacity.apply_referral_change(
        session,
        referral.activity_id,
        now,
        take_place=target is S.accepted,
        release_place=release_place,
        waitlist_delta=(1 if target is S.waitlisted else 0) - (1 if current is S.waitlisted else 0),
    )
    _add_event(
        session,
        principal,
        referral,
        current,
        target,
        now,
        reason=change.reason,
        note=change.note,
    )
    session.flush()
    session.refresh(referral)
    return referral


def _illegal(referral_id, current, target, meanwhile: bool = False) -> Conflict:
    allowed = sorted(TRANSITIONS.get(current, frozenset()))
    then = "; it changed meanwhile" if meanwhile else ""
    options = f"it can move to: {', '.join(allowed)}" if allowed else "it is closed"
    return Conflict(
        f"Referral {referral_id} is {current}{then}; it cannot move to {target} ({options})"
    )


def _add_event(session, principal, referral, from_status, to_status, now, reason=None, note=""):
    """The referral's own history, and the audit log's entry for the same change (sending
    is `create`, every move `transition`; the note is named, never stored)."""
    if principal is None or principal.kind in ("anonymous", "system"):
        actor_type, actor_id = "system", None
    else:
        actor_type, actor_id = principal.kind, principal.id
    changes = {"status": {"before": from_status, "after": to_status}}
    if from_status is None:
        changes["activity_id"] = {"after": referral.activity_id}
        changes["personal_data"] = {"after": REDACTED}
    if reason:
        changes["reason"] = {"after": reason}
    if note:
        changes["note"] = {"after": REDACTED}
    record_event(
        session,
        "create" if from_status is None else "transition",
        "referral",
        referral.id,
        referral.organisation_id,
        changes,
    )
    about = {
        "organisation_id": referral.organisation_id,
        "subject_id": referral.id,
        "referral_id": referral.id,
        "activity_id": referral.activity_id,
        "referrer_id": referral.referrer_id,
    }
    if from_status is None:
        emit(session, EventType.referral_created, **about, status=to_status)
    else:
        emit(
            session,
            EventType.referral_status_changed,
            **about,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
        )
    session.add(
        ReferralEvent(
            referral_id=referral.id,
            occurred_at=now,
            from_status=from_status,
            to_status=to_status,
            actor_type=actor_type,
            actor_id=actor_id,
            reason=reason,
            note=crypto.encrypt({"note": note}) if note else None,
        )
    )
    standing.mark(session, referral.organisation_id)  # how it answers referrals


# --- jobs ---------------------------------------------------------------------------------


def expire_unanswered(session: Session, now: datetime) -> int:
    """Sent referrals past their respond-by time become ``expired``."""
    expired = session.execute(
        update(_table)
        .where(_table.c.status == S.sent.value, _table.c.respond_by <= now)
        .values(status=S.expired, status_changed_at=now, closed_at=now)
        .returning(
            _table.c.id, _table.c.activity_id, _table.c.organisation_id, _table.c.referrer_id
        )
    ).all()
    for referral in expired:
        _add_event(session, None, referral, S.sent, S.expired, now, reason="no_response")
    return len(expired)


def warn_expiring(session: Session, now: datetime) -> int:
    """Tell the receiving organisation, once, that a referral expires within the warning
    window (SIGNPOST_REFERRAL_EXPIRY_WARNING_HOURS, 48) unless it is answered."""
    window = now + timedelta(hours=get_settings().referral_expiry_warning_hours)
    due = session.execute(
        select(
            _table.c.id, _table.c.activity_id, _table.c.organisation_id, _table.c.respond_by
        ).where(_table.c.status == S.sent.value, _table.c.respond_by.between(now, window))
    ).all()
    return sum(
        emit(
            session,
            EventType.referral_expiring,
            organisation_id=row.organisation_id,
            subject_id=row.id,
            dedupe_key=f"referral.expiring:{row.id}",
            referral_id=row.id,
            activity_id=row.activity_id,
            respond_by=row.respond_by,
        )
        for row in due
    )


def purge_personal_data(session: Session, now: datetime, retention_days: int) -> int:
    """Delete contact details and notes of referrals closed ``retention_days`` ago."""
    cutoff = now - timedelta(days=retention_days)
    purged = 0
    while True:
        batch = (
            session.execute(
                select(Referral.id)
                .where(Referral.closed_at <= cutoff, Referral.purged_at.is_(None))
                .limit(1000)
            )
            .scalars()
            .all()
        )
        if not batch:
            return purged
        session.execute(
            update(_table)
            .where(_table.c.id.in_(batch))
            .values(personal_data=None, person_ref_hash=None, purged_at=now)
        )
        for referral_id, organisation_id in session.execute(
            select(Referral.id, Referral.organisation_id).where(Referral.id.in_(batch))
        ).all():
            record_event(
                session,
                "purge",
                "referral",
                referral_id,
                organisation_id,
                {"personal_data": {"before": REDACTED, "after": None}},
            )
        session.execute(
            update(ReferralEvent.__table__)
            .where(ReferralEvent.__table__.c.referral_id.in_(batch))
            .values(note=None)
        )
        purged += len(batch)


def rotate_keys(session: Session) -> int:
    """Re-encrypt every stored token under the newest data key."""
    rotated = 0
    for table, column in (
        (_table, _table.c.personal_data),
        (ReferralEvent.__table__, ReferralEvent.__table__.c.note),
    ):
        for row_id, token in session.execute(
            select(table.c.id, column).where(column.is_not(None))
        ).all():
            session.execute(
                update(table).where(table.c.id == row_id).values({column.key: crypto.rotate(token)})
            )
            rotated += 1
    return rotated
