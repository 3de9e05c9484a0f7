"""The public Open Referral UK 3.0 feed (HSDS UK profile): what the public may see of the
directory, shaped as the profile's schemas say.

An activity is an HSDS ``service``, an organisation an ``organization``, a venue a
``location``, an activity held at a venue a ``service_at_location`` (``activity_venue``,
whose id the feed publishes), a vocabulary scheme a ``taxonomy`` and its terms
``taxonomy_term`` s. Only published organisations and their live activities and venues
appear; no assurance evidence, capacity, referral or personal data: the profile has no
field for them. ``assured_date`` is the day the organisation last confirmed the listing.

A page of services is read from the activity cards (``app.activities.cards``) in one
statement with its organisations and its exact count; full nesting (``full=true``, every
``/{id}``) adds one statement for the page's venues. Terms come from the in-memory
vocabulary (``app.vocabulary.snapshot``). Ids the model does not store (addresses, cost
options, identifiers) are UUIDv5 of what they belong to, so they are stable across reads.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.activities.models import Activity, ActivityTerm, ActivityVenue
from app.core.errors import InvalidField, NotFound
from app.core.pagination import Page, PageParams, make_page
from app.geo import service as geo
from app.openreferral import counts
from app.organisations import visibility
from app.organisations.models import Organisation, OrganisationStatus
from app.search import sql
from app.search.models import ActivityCardRecord, ActivityPlace
from app.search.words import normalise
from app.venues.models import Venue
from app.vocabulary.models import Taxonomy, TaxonomyTerm
from app.vocabulary.snapshot import Snapshot, snapshot

VERSION = "HSDS-UK-3.0"
PROFILE_URL = "https://github.com/OpenReferralUK/uk-profile/blob/main/docs/index.md"
# Ids derived from what they belong to (uuid5 in this namespace).
NAMESPACE = uuid.UUID("6f1d3c2a-8a55-4a57-9d0e-5b0f3c7a2e41")
DEFAULT_PROXIMITY_M = 10_000
MAX_PROXIMITY_M = 200_000
MAX_SEARCH_WORDS = 8

IDENTIFIER_SCHEMES = {  # org-id.guide schemes for our registration numbers
    "charity_number": ("GB-CHC", "Charity number"),
    "company_number": ("GB-COH", "Company number"),
}


def derived_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    """Leave out what is unknown: the profile types its fields, and null is not a string."""
    return {key: value for key, value in values.items() if value is not None and value != []}


# --- filters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    search: str | None = None
    taxonomy_term_id: uuid.UUID | None = None
    taxonomy_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    modified_after: datetime | None = None
    postcode: str | None = None
    proximity: int | None = None


def _public_activities() -> ColumnElement[bool]:
    """Live activities of published organisations (``activities.visible_to`` for the
    public), as EXISTS: PostgreSQL then walks the activity index in id order for the first
    pages instead of sorting the country."""
    organisation = aliased(Organisation)
    return Activity.archived_at.is_(None) & exists().where(
        organisation.id == Activity.organisation_id,
        organisation.status == OrganisationStatus.published,
        organisation.archived_at.is_(None),
    )


def _near(session: Session, filters: Filters) -> tuple[float, float, float] | None:
    """(latitude, longitude, km) of the postcode filter, or None when there is none."""
    if filters.postcode is None:
        if filters.proximity is not None:
            raise InvalidField("query.proximity", "needs a postcode to measure from", "missing")
        return None
    place = geo.resolve_postcode(session, filters.postcode)
    metres = filters.proximity if filters.proximity is not None else DEFAULT_PROXIMITY_M
    return place.latitude, place.longitude, metres / 1000


def _within(latitude, longitude, near: tuple[float, float, float]) -> ColumnElement[bool]:
    lat0, lon0, km = near
    south, north, west, east = geo.bounding_box(lat0, lon0, km)
    return (
        latitude.between(south, north)
        & longitude.between(west, east)
        & (sql.haversine_km(latitude, longitude, lat0, lon0) <= km)
    )


def _service_conditions(session: Session, filters: Filters) -> list[ColumnElement[bool]]:
    """The filters, combined with AND, on ``Activity``."""
    where = [_public_activities()]
    if filters.search:
        words = [w for w in normalise(filters.search).split() if any(c.isalnum() for c in w)]
        if words:
            dialect = session.get_bind().dialect.name
            where.append(sql.text_match(Activity.id, words[:MAX_SEARCH_WORDS], dialect))
    if filters.taxonomy_term_id:
        tagged = select(ActivityTerm.activity_id).where(
            ActivityTerm.term_id == filters.taxonomy_term_id
        )
        where.append(Activity.id.in_(tagged))
    if filters.taxonomy_id:
        in_scheme = (
            select(ActivityTerm.activity_id)
            .join(TaxonomyTerm, TaxonomyTerm.id == ActivityTerm.term_id)
            .where(TaxonomyTerm.taxonomy_id == filters.taxonomy_id)
        )
        where.append(Activity.id.in_(in_scheme))
    if filters.organization_id:
        where.append(Activity.organisation_id == filters.organization_id)
    if filters.modified_after:
        where.append(Activity.updated_at >= filters.modified_after)
    return where


# --- reading --------------------------------------------------------------------------------

ORGANISATION_COLUMNS = (
    Organisation.id,
    Organisation.name,
    Organisation.description,
    Organisation.email,
    Organisation.website,
    Organisation.charity_number,
    Organisation.company_number,
    Organisation.areas_served,
)
VENUE_COLUMNS = (
    Venue.id,
    Venue.name,
    Venue.description,
    Venue.address_1,
    Venue.address_2,
    Venue.city,
    Venue.county,
    Venue.postcode,
    Venue.latitude,
    Venue.longitude,
    Venue.accessibility,
    Venue.accessibility_notes,
)


def _org_labels() -> list[Any]:
    return [column.label(f"org_{column.key}") for column in ORGANISATION_COLUMNS]


def _organisation_of(row: Mapping[str, Any]) -> dict[str, Any]:
    return {column.key: row[f"org_{column.key}"] for column in ORGANISATION_COLUMNS}


def _count(statement: Select) -> Any:
    return (
        select(func.count())
        .select_from(statement.order_by(None).subquery())
        .correlate(None)
        .scalar_subquery()
    )


def _paged(
    session: Session,
    key: Hashable,
    base: Select,
    params: PageParams,
    decorate: Callable[[Any], Select],
    convert: Callable[[list[Mapping[str, Any]]], list[dict[str, Any]]],
) -> Page[dict[str, Any]]:
    """One page of ``base`` (ids, ordered by its first column, so pages are stable), each
    row joined to what ``decorate`` adds, with the exact count beside it (one statement),
    or the count remembered for this list and its filters (``key``; ``counts``)."""
    page = base.offset(params.offset).limit(params.per_page).subquery("page")
    total = counts.known(key)
    statement = decorate(page).order_by(page.c[0])
    if total is None:
        statement = statement.add_columns(_count(base).label("feed_total"))
    rows = [row._mapping for row in session.execute(statement)]
    if total is None:
        total = (
            rows[0]["feed_total"] if rows else session.execute(select(_count(base))).scalar_one()
        )
        counts.remember(key, total)
    return make_page(convert(rows), total, params)


def _with_cards(page: Any) -> Select:
    return (
        select(page, ActivityCardRecord.card, *_org_labels())
        .join(ActivityCardRecord, ActivityCardRecord.activity_id == page.c.id)
        .join(Organisation, Organisation.id == ActivityCardRecord.organisation_id)
    )


def _venues_of(session: Session, activity_ids: Iterable[Any]) -> dict[uuid.UUID, list[Mapping]]:
    """The live venues of these activities, each with its ``service_at_location`` id."""
    found: dict[uuid.UUID, list[Mapping]] = defaultdict(list)
    ids = list(activity_ids)
    if not ids:
        return found
    statement = (
        select(ActivityVenue.activity_id, ActivityVenue.id.label("sal_id"), *VENUE_COLUMNS)
        .join(Venue, Venue.id == ActivityVenue.venue_id)
        .where(ActivityVenue.activity_id.in_(ids), Venue.archived_at.is_(None))
        .order_by(Venue.name, Venue.id)
    )
    for row in session.execute(statement):
        found[row.activity_id].append(row._mapping)
    return found


def list_services(
    session: Session, filters: Filters, params: PageParams, full: bool
) -> Page[dict[str, Any]]:
    base = select(Activity.id).where(*_service_conditions(session, filters))
    near = _near(session, filters)
    if near:
        nearby = select(ActivityPlace.activity_id).where(
            _within(ActivityPlace.latitude, ActivityPlace.longitude, near)
        )
        base = base.where(Activity.id.in_(nearby))
    base = base.order_by(Activity.id)
    vocabulary = snapshot(session)

    def convert(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        venues = _venues_of(session, (r["id"] for r in rows)) if full else {}
        return [
            service(row["card"], _organisation_of(row), venues.get(row["id"], []), vocabulary)
            if full
            else service_summary(row["card"], _organisation_of(row))
            for row in rows
        ]

    return _paged(session, ("services", filters), base, params, _with_cards, convert)


def get_service(session: Session, service_id: uuid.UUID) -> dict[str, Any]:
    base = select(Activity.id).where(Activity.id == service_id, _public_activities())
    rows = [r._mapping for r in session.execute(_with_cards(base.subquery("page")))]
    if not rows:
        raise NotFound(f"No service with id {service_id}")
    venues = _venues_of(session, [service_id])
    return service(
        rows[0]["card"], _organisation_of(rows[0]), venues[service_id], snapshot(session)
    )


def _public_organisations() -> ColumnElement[bool]:
    return visibility.public()


def list_organizations(
    session: Session, search: str | None, params: PageParams, full: bool
) -> Page[dict[str, Any]]:
    base = select(Organisation.id).where(_public_organisations())
    if search:
        pattern = f"%{search.strip()}%"
        base = base.where(
            or_(Organisation.name.ilike(pattern), Organisation.description.ilike(pattern))
        )
    base = base.order_by(Organisation.id)

    def decorate(page: Any) -> Select:
        return select(page, *_org_labels()).join(Organisation, Organisation.id == page.c.id)

    def convert(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [organization(_organisation_of(row), full=full) for row in rows]

    return _paged(session, ("organizations", search), base, params, decorate, convert)


def get_organization(
    session: Session, organization_id: uuid.UUID, full_service: bool
) -> dict[str, Any]:
    row = session.execute(
        select(*_org_labels()).where(Organisation.id == organization_id, _public_organisations())
    ).first()
    if row is None:
        raise NotFound(f"No organization with id {organization_id}")
    organisation = _organisation_of(row._mapping)
    statement = _with_cards(
        select(Activity.id)
        .where(Activity.organisation_id == organization_id, _public_activities())
        .subquery("page")
    ).order_by(ActivityCardRecord.activity_id)
    rows = [r._mapping for r in session.execute(statement)]
    venues = _venues_of(session, (r["id"] for r in rows)) if full_service else {}
    vocabulary = snapshot(session)
    services = [
        service(r["card"], organisation, venues.get(r["id"], []), vocabulary)
        if full_service
        else service_summary(r["card"], None)
        for r in rows
    ]
    return organization(organisation, full=True, services=services)


def _sal_base(session: Session, filters: Filters) -> Select:
    base = (
        select(ActivityVenue.id.label("sal_id"), ActivityVenue.activity_id, ActivityVenue.venue_id)
        .join(Activity, Activity.id == ActivityVenue.activity_id)
        .join(Venue, Venue.id == ActivityVenue.venue_id)
        .where(*_service_conditions(session, filters), Venue.archived_at.is_(None))
    )
    near = _near(session, filters)
    if near:
        base = base.where(
            Venue.latitude.is_not(None), _within(Venue.latitude, Venue.longitude, near)
        )
    return base.order_by(ActivityVenue.id)


def _sal_decorate(page: Any) -> Select:
    return (
        select(page, ActivityCardRecord.card, *_org_labels(), *VENUE_COLUMNS)
        .join(ActivityCardRecord, ActivityCardRecord.activity_id == page.c.activity_id)
        .join(Organisation, Organisation.id == ActivityCardRecord.organisation_id)
        .join(Venue, Venue.id == page.c.venue_id)
    )


def list_service_at_locations(
    session: Session, filters: Filters, params: PageParams, full: bool
) -> Page[dict[str, Any]]:
    vocabulary = snapshot(session) if full else None

    def convert(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        venues = _venues_of(session, {r["activity_id"] for r in rows}) if full else {}
        return [
            service_at_location(row, venues.get(row["activity_id"], []), vocabulary) for row in rows
        ]

    base = _sal_base(session, filters)
    return _paged(session, ("service_at_locations", filters), base, params, _sal_decorate, convert)


def get_service_at_location(session: Session, sal_id: uuid.UUID) -> dict[str, Any]:
    base = _sal_base(session, Filters()).where(ActivityVenue.id == sal_id)
    rows = [r._mapping for r in session.execute(_sal_decorate(base.subquery("page")))]
    if not rows:
        raise NotFound(f"No service_at_location with id {sal_id}")
    row = rows[0]
    venues = _venues_of(session, [row["activity_id"]])
    return service_at_location(row, venues[row["activity_id"]], snapshot(session))


def list_taxonomies(session: Session, search: str | None, params: PageParams) -> Page[dict]:
    base = select(Taxonomy.id)
    if search:
        base = base.where(Taxonomy.name.ilike(f"%{search.strip()}%"))
    base = base.order_by(Taxonomy.id)

    def decorate(page: Any) -> Select:
        return select(page, Taxonomy.name, Taxonomy.description).join(
            Taxonomy, Taxonomy.id == page.c.id
        )

    taxonomies = lambda rows: [taxonomy(row) for row in rows]  # noqa: E731
    return _paged(session, ("taxonomies", search), base, params, decorate, taxonomies)


def get_taxonomy(session: Session, taxonomy_id: uuid.UUID) -> dict[str, Any]:
    row = session.execute(
        select(Taxonomy.id, Taxonomy.name, Taxonomy.description).where(Taxonomy.id == taxonomy_id)
    ).first()
    if row is None:
        raise NotFound(f"No taxonomy with id {taxonomy_id}")
    vocabulary = snapshot(session)
    terms = sorted(
        (t for t, scheme in vocabulary.taxonomy_of.items() if scheme == taxonomy_id),
        key=str,
    )
    return {**taxonomy(row._mapping), "taxonomy_terms": [term(t, vocabulary) for t in terms]}


def list_taxonomy_terms(
    session: Session,
    params: PageParams,
    search: str | None,
    taxonomy_id: uuid.UUID | None,
    parent_id: uuid.UUID | None,
    top_only: bool,
) -> Page[dict[str, Any]]:
    base = select(TaxonomyTerm.id)
    if search:
        base = base.where(TaxonomyTerm.name.ilike(f"%{search.strip()}%"))
    if taxonomy_id:
        base = base.where(TaxonomyTerm.taxonomy_id == taxonomy_id)
    if parent_id:
        base = base.where(TaxonomyTerm.parent_id == parent_id)
    if top_only:
        base = base.where(TaxonomyTerm.parent_id.is_(None))
    base = base.order_by(TaxonomyTerm.id)
    vocabulary = snapshot(session)
    return _paged(
        session,
        ("taxonomy_terms", search, taxonomy_id, parent_id, top_only),
        base,
        params,
        lambda page: select(page),
        lambda rows: [term(row["id"], vocabulary) for row in rows],
    )


def get_taxonomy_term(session: Session, term_id: uuid.UUID) -> dict[str, Any]:
    vocabulary = snapshot(session)
    if term_id not in vocabulary.names:
        if session.get(TaxonomyTerm, term_id) is None:
            raise NotFound(f"No taxonomy_term with id {term_id}")
        vocabulary = snapshot(session, force=True)
    return term(term_id, vocabulary)


# --- shapes ---------------------------------------------------------------------------------


def organization(
    org: Mapping[str, Any], full: bool = False, services: list[dict] | None = None
) -> dict[str, Any]:
    shown = _compact(
        {
            "id": str(org["id"]),
            "name": org["name"],
            "description": org["description"] or "",
            "email": org["email"],
            "website": org["website"],
        }
    )
    if full:
        shown["organization_identifiers"] = [
            {
                "id": derived_id(org["id"], field),
                "organization_id": str(org["id"]),
                "identifier_scheme": scheme,
                "identifier_type": label,
                "identifier": org[field],
            }
            for field, (scheme, label) in IDENTIFIER_SCHEMES.items()
            if org.get(field)
        ]
        if services is not None:
            shown["services"] = services
    return shown


def service_summary(card: Mapping[str, Any], org: Mapping[str, Any] | None) -> dict[str, Any]:
    """A service as the profile lists it: its own fields and its organisation."""
    shown = _compact(
        {
            "id": card["id"],
            "organization_id": card["organisation"]["id"],
            "name": card["name"],
            "description": card["description"],
            "url": card["url"],
            "email": card["email"],
            "status": card["status"],
            "minimum_age": card["minimum_age"],
            "maximum_age": card["maximum_age"],
            "assured_date": card["last_confirmed_at"][:10],
            "last_modified": card["updated_at"],
        }
    )
    if org is not None:
        shown["organization"] = organization(org)
    return shown


def service(
    card: Mapping[str, Any],
    org: Mapping[str, Any],
    venues: list[Mapping[str, Any]],
    vocabulary: Snapshot,
) -> dict[str, Any]:
    """A service fully nested, as ``/services/{id}`` shows it."""
    service_id = card["id"]
    sal_of_venue = {str(v["id"]): str(v["sal_id"]) for v in venues}
    return {
        **service_summary(card, None),
        "schedules": [_schedule(s, service_id, sal_of_venue) for s in card["schedules"]],
        "service_areas": [
            {"id": derived_id(org["id"], "area", area), "service_id": service_id, "name": area}
            for area in org["areas_served"] or []
        ],
        "service_at_locations": [
            {
                "id": str(v["sal_id"]),
                "service_id": service_id,
                "location_id": str(v["id"]),
                "location": location(v, full=True),
            }
            for v in venues
        ],
        "languages": [
            {"id": derived_id(service_id, "language", code), "service_id": service_id, "code": code}
            for code in card["languages"]
        ],
        "organization": organization(org, full=True),
        "funding": [
            {"id": derived_id(service_id, "funding"), "service_id": service_id, "source": source}
            for source in [card["funding_source"]]
            if source
        ],
        "cost_options": _cost_options(card),
        "contacts": [],
        "attributes": [
            {
                "id": derived_id(service_id, "term", t["id"]),
                "link_id": service_id,
                "link_type": "service",
                "taxonomy_term_id": t["id"],
                "taxonomy_term": term(uuid.UUID(t["id"]), vocabulary, fallback=t),
            }
            for t in card["terms"]
        ],
    }


def _schedule(
    schedule: Mapping[str, Any], service_id: str, sal_of_venue: Mapping[str, str]
) -> dict[str, Any]:
    return _compact(
        {
            "id": schedule["id"],
            "service_id": service_id,
            "service_at_location_id": sal_of_venue.get(schedule.get("venue_id") or ""),
            "valid_from": schedule["valid_from"],
            "valid_to": schedule["valid_to"],
            "freq": schedule["freq"],
            "interval": schedule["interval"],
            "byday": schedule["byday"],
            "opens_at": schedule["opens_at"],
            "closes_at": schedule["closes_at"],
            "description": schedule["description"] or None,
        }
    )


def _cost_options(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    service_id = card["id"]
    kind = card["cost_type"]
    amount = card["cost_amount"]
    option = {
        "free": "Free",
        "donation": "Donation",
        "fee": card["cost_description"] or "Fee",
    }[kind]
    return [
        _compact(
            {
                "id": derived_id(service_id, "cost"),
                "service_id": service_id,
                "option": option,
                "amount": 0 if kind == "free" else (float(amount) if amount is not None else None),
                "amount_description": card["concessions"] or None,
            }
        )
    ]


def location(venue: Mapping[str, Any], full: bool) -> dict[str, Any]:
    venue_id = str(venue["id"])
    shown = _compact(
        {
            "id": venue_id,
            "location_type": "physical",
            "name": venue["name"],
            "description": venue["description"] or None,
            "latitude": venue["latitude"],
            "longitude": venue["longitude"],
        }
    )
    if not full:
        return shown
    shown["addresses"] = [
        _compact(
            {
                "id": derived_id(venue_id, "address"),
                "location_id": venue_id,
                "address_1": venue["address_1"],
                "address_2": venue["address_2"],
                "city": venue["city"],
                "state_province": venue["county"] or "",
                "postal_code": venue["postcode"],
                "country": "GB",
                "address_type": "physical",
            }
        )
    ]
    features = [
        {
            "id": derived_id(venue_id, "accessibility", feature),
            "location_id": venue_id,
            "description": feature.replace("_", " ").capitalize(),
            "details": feature,
        }
        for feature in venue["accessibility"] or []
    ]
    if venue["accessibility_notes"]:
        features.append(
            {
                "id": derived_id(venue_id, "accessibility", "notes"),
                "location_id": venue_id,
                "description": venue["accessibility_notes"],
            }
        )
    shown["accessibility"] = features
    return shown


def service_at_location(
    row: Mapping[str, Any], venues: list[Mapping[str, Any]], vocabulary: Snapshot | None
) -> dict[str, Any]:
    """A ``service_at_location``: the list shape, or fully nested given the vocabulary."""
    org = _organisation_of(row)
    full = vocabulary is not None
    return {
        "id": str(row["sal_id"]),
        "service_id": str(row["activity_id"]),
        "location_id": str(row["venue_id"]),
        "location": location(row, full=full),
        "service": service(row["card"], org, venues, vocabulary)
        if full
        else service_summary(row["card"], org),
    }


def taxonomy(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "name": row["name"], "description": row["description"] or ""}


def term(
    term_id: uuid.UUID, vocabulary: Snapshot, fallback: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A taxonomy term from the vocabulary in memory (``fallback``: the card's summary, for
    a term created in the seconds before this process's copy caught up)."""
    if term_id not in vocabulary.names and fallback is not None:
        return {
            "id": str(term_id),
            "name": fallback["name"],
            "description": "",
            "taxonomy": fallback["taxonomy"],
            "term": fallback["code"],
        }
    scheme = vocabulary.taxonomy_of[term_id]
    parent = vocabulary.parents.get(term_id)
    return _compact(
        {
            "id": str(term_id),
            "name": vocabulary.names[term_id],
            "description": vocabulary.descriptions[term_id],
            "parent_id": str(parent) if parent else None,
            "taxonomy": vocabulary.taxonomy_names[scheme],
            "taxonomy_id": str(scheme),
            "term": vocabulary.codes[term_id],
        }
    )
