"""Support needs and peer offers: who sees what, the lifecycle, the queues and matching.

A need shared only with responders (stewards, commissioners, admins) is invisible to every
other organisation everywhere: lists, counts, detail (404) and matches. Peer organisations
see a shared need, never its thread.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, or_, select, true
from sqlmodel import Session

from app.accounts.models import GlobalRole
from app.accounts.principal import ANONYMOUS, Principal
from app.activities.models import Activity, ActivityVenue
from app.assurance import rules as assurance_rules
from app.assurance.service import items_of
from app.audit.recorder import record_event
from app.capacity.models import ActivityCapacity, CapacityStatus, PauseReason
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.pagination import Page, PageParams, paginate_many
from app.geo.service import distance_km
from app.notifications.events import EventType, emit
from app.organisations import service as organisation_service
from app.organisations import visibility
from app.organisations.models import Organisation
from app.search import sql
from app.support.models import (
    NeedStatus,
    NeedVisibility,
    SupportMessage,
    SupportNeed,
    SupportOffer,
    Urgency,
)
from app.support.schemas import (
    MessagePublic,
    SupportMatch,
    SupportMatches,
    SupportNeedCreate,
    SupportNeedPublic,
    SupportOfferCreate,
    SupportOfferPublic,
)
from app.venues.models import Venue
from app.vocabulary import service as vocabulary
from app.vocabulary.models import Taxonomy, TaxonomyTerm

RESPONDERS = (GlobalRole.steward, GlobalRole.commissioner, GlobalRole.admin)
S = NeedStatus
TRANSITIONS = {
    S.open: {S.acknowledged, S.closed},
    S.acknowledged: {S.in_progress, S.resolved, S.closed},
    S.in_progress: {S.resolved, S.closed},
}
RESPONDER_ONLY = {S.acknowledged, S.in_progress}
FINISHED = {S.resolved, S.closed}
URGENCY_RANK = {Urgency.critical: 0, Urgency.high: 1, Urgency.medium: 2, Urgency.low: 3}


def is_responder(principal: Principal) -> bool:
    return principal.has_role(*RESPONDERS)


def sees_thread(principal: Principal, need: SupportNeed) -> bool:
    return is_responder(principal) or need.organisation_id in principal.member_of


def _may_see(principal: Principal, need: SupportNeed) -> bool:
    return sees_thread(principal, need) or (
        bool(principal.member_of) and need.visibility is NeedVisibility.peers
    )


# --- needs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedFilters:
    peers: bool = False
    categories: tuple[uuid.UUID, ...] = ()
    urgencies: tuple[Urgency, ...] = ()
    statuses: tuple[NeedStatus, ...] = ()
    area: str | None = None
    waiting_days: int | None = None
    organisation_id: uuid.UUID | None = None


def _scope(principal: Principal, peers: bool) -> ColumnElement[bool]:
    return _role_scope(principal, peers) & visibility.belongs_to_visible(
        SupportNeed.organisation_id, principal
    )


def _role_scope(principal: Principal, peers: bool) -> ColumnElement[bool]:
    if peers:
        if not principal.member_of and not is_responder(principal):
            raise Forbidden("Peer needs are for organisations (and their responders)")
        shared = SupportNeed.visibility == NeedVisibility.peers
        return shared & SupportNeed.organisation_id.not_in(principal.member_of)
    if is_responder(principal):
        return true()
    if not principal.member_of:
        raise Forbidden("Support needs are for organisations, stewards and commissioners")
    return SupportNeed.organisation_id.in_(principal.member_of)


def list_needs(
    session: Session,
    principal: Principal,
    filters: NeedFilters,
    params: PageParams,
    now: datetime,
) -> Page[SupportNeedPublic]:
    statement = select(SupportNeed).where(_scope(principal, filters.peers))
    if filters.categories:
        statement = statement.where(SupportNeed.category_id.in_(filters.categories))
    if filters.urgencies:
        statement = statement.where(SupportNeed.urgency.in_(filters.urgencies))
    if filters.statuses:
        statement = statement.where(SupportNeed.status.in_(filters.statuses))
    if filters.organisation_id:
        statement = statement.where(SupportNeed.organisation_id == filters.organisation_id)
    if filters.waiting_days is not None:
        statement = statement.where(
            SupportNeed.created_at <= now - timedelta(days=filters.waiting_days)
        )
    if filters.area:
        dialect = session.get_bind().dialect.name
        in_area = select(Organisation.id).where(
            sql.json_has_any(Organisation.areas_served, [filters.area], dialect)
        )
        statement = statement.where(SupportNeed.organisation_id.in_(in_area))
    rank = case(*((SupportNeed.urgency == u.value, r) for u, r in URGENCY_RANK.items()), else_=9)
    ordered = statement.order_by(rank, SupportNeed.created_at, SupportNeed.id)
    return paginate_many(
        session,
        ordered,
        params,
        lambda items: to_public(session, principal, items, now),
    )


def get_visible(session: Session, principal: Principal, need_id: uuid.UUID) -> SupportNeed:
    need = session.get(SupportNeed, need_id)
    if (
        need is None
        or not _may_see(principal, need)
        or not visibility.is_visible_id(session, principal, need.organisation_id)
    ):
        raise NotFound(f"No support need with id {need_id}")
    return need


def to_public(
    session: Session, principal: Principal, needs: list[SupportNeed], now: datetime
) -> list[SupportNeedPublic]:
    if not needs:
        return []
    organisations = organisation_service.summaries(session, {n.organisation_id for n in needs})
    categories = vocabulary.summaries(session, {n.category_id for n in needs})
    threads: dict[uuid.UUID, list[MessagePublic]] = {n.id: [] for n in needs}
    shown = [n.id for n in needs if sees_thread(principal, n)]
    if shown:
        for message in session.execute(
            select(SupportMessage)
            .where(SupportMessage.need_id.in_(shown))
            .order_by(SupportMessage.created_at, SupportMessage.id)
        ).scalars():
            threads[message.need_id].append(MessagePublic.model_validate(message))
    return [
        SupportNeedPublic(
            id=n.id,
            organisation=organisations[n.organisation_id],
            category=categories[n.category_id],
            urgency=n.urgency,
            description=n.description,
            visibility=n.visibility,
            status=n.status,
            handler_id=n.handler_id,
            created_at=n.created_at,
            acknowledged_at=n.acknowledged_at,
            in_progress_at=n.in_progress_at,
            resolved_at=n.resolved_at,
            closed_at=n.closed_at,
            waiting_days=((n.resolved_at or n.closed_at or now) - n.created_at).days,
            messages=threads[n.id] if n.id in shown else None,
            version=n.version,
        )
        for n in needs
    ]


def create_need(
    session: Session,
    principal: Principal,
    organisation_id: uuid.UUID,
    data: SupportNeedCreate,
    now: datetime,
) -> SupportNeed:
    _require_member(principal, organisation_id, "flag its support needs")
    vocabulary.load_terms(session, [data.category_id], "body.category_id", "support-category")
    need = SupportNeed(
        organisation_id=organisation_id,
        raised_by_id=principal.id,
        created_at=now,
        updated_at=now,
        **data.model_dump(),
    )
    session.add(need)
    session.flush()
    emit(
        session,
        EventType.support_need_created,
        organisation_id=organisation_id,
        subject_id=need.id,
        need_id=need.id,
        category_id=need.category_id,
        urgency=need.urgency,
        visibility=need.visibility,
    )
    if need.visibility is NeedVisibility.peers:
        _announce_matches(session, [need], _open_offers(session, need.category_id))
    return need


def transition(
    session: Session, principal: Principal, need: SupportNeed, target: NeedStatus, now: datetime
) -> SupportNeed:
    responder = is_responder(principal)
    if not (responder or need.organisation_id in principal.member_of):
        raise Forbidden("Only the organisation and its responders move a need on")
    if target in RESPONDER_ONLY and not responder:
        raise Forbidden(f"Stewards and commissioners mark a need {target}")
    if target not in TRANSITIONS.get(need.status, set()):
        allowed = ", ".join(sorted(TRANSITIONS.get(need.status, set()))) or "nothing: it is over"
        raise Conflict(f"Support need {need.id} is {need.status}; it can move to {allowed}")
    need.status = target
    setattr(need, f"{target}_at", now)
    if responder and principal.kind == "user" and need.handler_id is None:
        need.handler_id = principal.id
    need.updated_at = now
    session.add(need)
    session.flush()
    emit(
        session,
        EventType.support_need_status_changed,
        organisation_id=need.organisation_id,
        subject_id=need.id,
        need_id=need.id,
        status=target,
        handler_id=need.handler_id,
        by_responder=responder,
    )
    return need


def add_message(
    session: Session, principal: Principal, need: SupportNeed, body: str, now: datetime
) -> SupportMessage:
    if not sees_thread(principal, need):
        raise Forbidden("Only the organisation and its responders write in a need's thread")
    if need.status in FINISHED:
        raise Conflict(f"Support need {need.id} is {need.status}; its thread is closed")
    message = SupportMessage(
        need_id=need.id,
        author_id=principal.id if principal.kind == "user" else None,
        author_side="responder"
        if is_responder(principal) and need.organisation_id not in principal.member_of
        else "organisation",
        body=body,
        created_at=now,
    )
    session.add(message)
    need.updated_at = now
    session.add(need)
    session.flush()
    record_event(
        session,
        "create",
        "support_message",
        message.id,
        need.organisation_id,
        {"need_id": {"after": need.id}, "author_side": {"after": message.author_side}},
    )
    emit(
        session,
        EventType.support_need_message,
        organisation_id=need.organisation_id,
        subject_id=need.id,
        need_id=need.id,
        message_id=message.id,
        author_side=message.author_side,
        handler_id=need.handler_id,
    )
    return message


# --- offers and matches -------------------------------------------------------------------


def create_offer(
    session: Session,
    principal: Principal,
    organisation_id: uuid.UUID,
    data: SupportOfferCreate,
    now: datetime,
) -> SupportOffer:
    _require_member(principal, organisation_id, "offer help on its behalf")
    vocabulary.load_terms(session, [data.category_id], "body.category_id", "support-category")
    offer = SupportOffer(organisation_id=organisation_id, created_at=now, **data.model_dump())
    session.add(offer)
    session.flush()
    waiting = session.execute(
        select(SupportNeed).where(
            SupportNeed.category_id == offer.category_id,
            SupportNeed.visibility == NeedVisibility.peers,
            SupportNeed.status.not_in([s.value for s in FINISHED]),
            SupportNeed.organisation_id != offer.organisation_id,
        )
    ).scalars()
    _announce_matches(session, list(waiting), [offer])
    return offer


def _open_offers(session: Session, category_id: uuid.UUID) -> list[SupportOffer]:
    return list(
        session.execute(
            select(SupportOffer).where(
                SupportOffer.category_id == category_id, SupportOffer.withdrawn_at.is_(None)
            )
        ).scalars()
    )


def _announce_matches(
    session: Session, needs: list[SupportNeed], offers: list[SupportOffer]
) -> None:
    """Each offering organisation hears, once, of each peer-shared need its offer fits
    (the event is the offering organisation's: its members and webhooks hear of it)."""
    for need in needs:
        # A draft's (or archived organisation's) need is not shown to other organisations.
        if not visibility.is_visible_id(session, ANONYMOUS, need.organisation_id):
            continue
        for offer in offers:
            if offer.organisation_id == need.organisation_id:
                continue
            emit(
                session,
                EventType.support_offer_matched,
                organisation_id=offer.organisation_id,
                subject_id=offer.id,
                dedupe_key=f"support_offer.matched:{offer.id}:{need.id}",
                offer_id=offer.id,
                need_id=need.id,
                need_organisation_id=need.organisation_id,
                category_id=need.category_id,
                urgency=need.urgency,
            )


def withdraw_offer(
    session: Session, principal: Principal, offer: SupportOffer, now: datetime
) -> SupportOffer:
    _require_member(principal, offer.organisation_id, "withdraw its offers")
    if offer.withdrawn_at is None:
        offer.withdrawn_at = now
        session.add(offer)
        session.flush()
    return offer


def get_offer(session: Session, principal: Principal, offer_id: uuid.UUID) -> SupportOffer:
    offer = session.get(SupportOffer, offer_id)
    if offer is None or not visibility.is_visible_id(session, principal, offer.organisation_id):
        raise NotFound(f"No support offer with id {offer_id}")
    return offer


def list_offers(
    session: Session,
    principal: Principal,
    category_id: uuid.UUID | None,
    organisation_id: uuid.UUID | None,
    include_withdrawn: bool,
    params: PageParams,
) -> Page[SupportOfferPublic]:
    statement = select(SupportOffer).where(
        visibility.belongs_to_visible(SupportOffer.organisation_id, principal)
    )
    if category_id:
        statement = statement.where(SupportOffer.category_id == category_id)
    if organisation_id:
        statement = statement.where(SupportOffer.organisation_id == organisation_id)
    if not include_withdrawn:
        statement = statement.where(SupportOffer.withdrawn_at.is_(None))
    ordered = statement.order_by(SupportOffer.created_at.desc(), SupportOffer.id)
    return paginate_many(session, ordered, params, lambda items: offers_public(session, items))


def offers_public(session: Session, offers: list[SupportOffer]) -> list[SupportOfferPublic]:
    organisations = organisation_service.summaries(session, {o.organisation_id for o in offers})
    categories = vocabulary.summaries(session, {o.category_id for o in offers})
    return [
        SupportOfferPublic(
            id=o.id,
            organisation=organisations[o.organisation_id],
            category=categories[o.category_id],
            description=o.description,
            created_at=o.created_at,
            withdrawn_at=o.withdrawn_at,
        )
        for o in offers
    ]


def matches(session: Session, principal: Principal, need: SupportNeed) -> SupportMatches:
    """Other organisations offering help in the need's category, nearest first (by their
    closest pair of located venues); only for needs shared with peers."""
    if not sees_thread(principal, need):
        raise NotFound(f"No support need with id {need.id}")
    if need.visibility is not NeedVisibility.peers:
        raise Conflict(
            f"Support need {need.id} is shared with stewards and commissioners only; share "
            "it with peers to be matched"
        )
    offers = list(
        session.execute(
            select(SupportOffer).where(
                SupportOffer.category_id == need.category_id,
                SupportOffer.withdrawn_at.is_(None),
                SupportOffer.organisation_id != need.organisation_id,
                visibility.belongs_to_visible(SupportOffer.organisation_id, principal),
            )
        ).scalars()
    )
    places = _places(session, {need.organisation_id, *(o.organisation_id for o in offers)})
    home = places.get(need.organisation_id, [])
    public = {o.id: p for o, p in zip(offers, offers_public(session, offers), strict=True)}
    found = []
    for offer in offers:
        there = places.get(offer.organisation_id, [])
        distance = min(
            (distance_km(a[0], a[1], b[0], b[1]) for a in home for b in there), default=None
        )
        found.append(
            SupportMatch(
                offer=public[offer.id],
                distance_km=None if distance is None else round(distance, 2),
            )
        )
    found.sort(key=lambda m: (m.distance_km is None, m.distance_km or 0, m.offer.organisation.name))
    category = vocabulary.summaries(session, {need.category_id})[need.category_id]
    return SupportMatches(need_id=need.id, category=category, matches=found)


def _places(session: Session, organisation_ids: set[uuid.UUID]) -> dict[uuid.UUID, list]:
    """Each organisation's located venues: those it manages and those its activities use."""
    located = (Venue.latitude.is_not(None), Venue.archived_at.is_(None))
    rows = session.execute(
        select(Venue.managed_by_organisation_id, Venue.latitude, Venue.longitude).where(
            Venue.managed_by_organisation_id.in_(organisation_ids), *located
        )
    ).all()
    rows += session.execute(
        select(Activity.organisation_id, Venue.latitude, Venue.longitude)
        .join(ActivityVenue, ActivityVenue.activity_id == Activity.id)
        .join(Venue, Venue.id == ActivityVenue.venue_id)
        .where(Activity.organisation_id.in_(organisation_ids), *located)
    ).all()
    places: dict[uuid.UUID, list] = {}
    for organisation_id, latitude, longitude in rows:
        places.setdefault(organisation_id, []).append((latitude, longitude))
    return places


# --- helpers ------------------------------------------------------------------------------


def _require_member(principal: Principal, organisation_id: uuid.UUID, what: str) -> None:
    if not (principal.is_admin or organisation_id in principal.member_of):
        raise Forbidden(f"Only the organisation's members (or an admin) {what}")


# --- signals: invitations to flag a need, never a need flagged on anyone's behalf ---------

# Lapsed assurance → the support that would help renew it.
LAPSE_SUGGESTS = {
    "safeguarding_policy": "safeguarding-training",
    "data_protection_policy": "statutory-duties",
    "ico_registration": "statutory-duties",
    "safeguarding-adults-level-1": "safeguarding-training",
    "safeguarding-adults-level-2": "safeguarding-training",
    "safeguarding-adults-level-3": "safeguarding-training",
    "safeguarding-children": "safeguarding-training",
    "mental-health-first-aid": "mental-health-training",
    "suicide-awareness": "mental-health-training",
    "trauma-informed-practice": "mental-health-training",
    "data-protection": "statutory-duties",
}


@dataclass(frozen=True)
class Suggestion:
    category: TaxonomyTerm
    reason: str


def suggestions(session: Session, organisation_id: uuid.UUID, now: datetime) -> list[Suggestion]:
    """Support categories the organisation's own data points to (a staff-capacity pause,
    lapsed assurance), less those it already has an unfinished need in."""
    reasons: dict[str, str] = {}
    paused = (
        session.execute(
            select(Activity.name)
            .join(ActivityCapacity, ActivityCapacity.activity_id == Activity.id)
            .where(
                Activity.organisation_id == organisation_id,
                Activity.archived_at.is_(None),
                ActivityCapacity.status == CapacityStatus.paused.value,
                ActivityCapacity.pause_reason == PauseReason.staff_capacity.value,
                or_(ActivityCapacity.paused_until.is_(None), ActivityCapacity.paused_until > now),
            )
        )
        .scalars()
        .first()
    )
    if paused:
        reasons["over-capacity"] = f"{paused} is paused for staff capacity"
    items = items_of(session, [organisation_id])
    training_codes = {
        t.id: t.code
        for t in session.execute(
            select(TaxonomyTerm).where(
                TaxonomyTerm.id.in_({i.training_type_id for i in items if i.training_type_id})
            )
        ).scalars()
    }
    for item in items:
        if assurance_rules.item_status(item, now.date()) is not assurance_rules.ItemStatus.expired:
            continue
        key = training_codes.get(item.training_type_id) if item.training_type_id else item.kind
        category = LAPSE_SUGGESTS.get(str(key))
        if category:
            reasons.setdefault(category, f"{str(key).replace('_', ' ')} has lapsed")
    if not reasons:
        return []
    terms = {
        t.code: t
        for t in session.execute(
            select(TaxonomyTerm)
            .join(Taxonomy, Taxonomy.id == TaxonomyTerm.taxonomy_id)
            .where(Taxonomy.code == "support-category", TaxonomyTerm.code.in_(reasons))
        ).scalars()
    }
    already = set(
        session.execute(
            select(SupportNeed.category_id).where(
                SupportNeed.organisation_id == organisation_id,
                SupportNeed.status.not_in([s.value for s in FINISHED]),
            )
        ).scalars()
    )
    return [
        Suggestion(terms[code], reason)
        for code, reason in sorted(reasons.items())
        if code in terms and terms[code].id not in already
    ]
