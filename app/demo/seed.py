"""``signpost seed-demo``: a realistic fictional directory for Bristol, loaded once."""

import hashlib
import uuid
from datetime import date, timedelta

from sqlmodel import Session, func, select

from app.accounts import service as accounts
from app.accounts.models import GlobalRole, OrganisationRole
from app.accounts.principal import SYSTEM, Principal
from app.accounts.schemas import UserCreate
from app.activities import service as activities
from app.activities.schemas import ActivityCreate
from app.areas.models import Area
from app.areas.schemas import AreaCreate
from app.areas.seed import local_authorities, match_served_areas
from app.areas.service import create_area
from app.assurance import service as assurance
from app.assurance.schemas import AssuranceItemCreate
from app.capacity import service as capacity
from app.closures import service as closures
from app.closures.schemas import ClosureCreate
from app.core.config import get_settings
from app.core.types import utcnow
from app.demo.data import AREAS, KINDS, ORGANISATIONS, VENUES
from app.geo.outcodes import centroid
from app.geo.postcodes import outcode_of
from app.organisations import service as organisations
from app.organisations.models import Organisation
from app.organisations.schemas import OrganisationCreate
from app.search.schedule import uk_today
from app.venues import service as venues
from app.venues.schemas import VenueCreate
from app.vocabulary.seed import NEEDS, seed_vocabulary

BRISTOL = "City of Bristol"


def _jitter(key: str) -> tuple[float, float]:
    """A stable offset of up to ~500 m, so venues in one outcode do not stack up."""
    digest = hashlib.sha256(key.encode()).digest()
    return (digest[0] - 128) / 128 * 0.0045, (digest[1] - 128) / 128 * 0.007


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def seed_demo(session: Session) -> tuple[int, int] | None:
    """Load the demo directory unless organisations already exist; return what was added."""
    terms = seed_vocabulary(session)  # also brings an older demo database's vocabulary up to date
    if session.exec(select(func.count()).select_from(Organisation)).one():
        return None

    venue_ids: dict[str, uuid.UUID] = {}
    for key, (name, address, postcode, accessibility) in VENUES.items():
        area = centroid(outcode_of(postcode))
        d_lat, d_lon = _jitter(key)
        venue = venues.create_venue(
            session,
            SYSTEM,
            VenueCreate(
                name=name,
                address_1=address,
                city="Bristol",
                postcode=postcode,
                latitude=round(area.latitude + d_lat, 5),
                longitude=round(area.longitude + d_lon, 5),
                accessibility=accessibility,
            ),
        )
        venue_ids[key] = venue.id

    now = utcnow()
    activity_count = 0
    for index, (name, legal_form, kind, venue_key, charity, areas) in enumerate(ORGANISATIONS):
        slug = _slug(name)
        organisation = organisations.create_organisation(
            session,
            SYSTEM,
            OrganisationCreate(
                name=name,
                description=f"{name} is a fictional organisation in Signpost's demo directory.",
                website=f"https://{slug}.example.org",
                email=f"hello@{slug}.example.org",
                phone=f"0117 496 0{index:03d}",
                charity_number=charity,
                legal_form=legal_form,
                areas_served=areas,
                status="draft" if index == len(ORGANISATIONS) - 1 else "published",
            ),
        )
        for number, (title, description, categories, schedule, details) in enumerate(KINDS[kind]):
            freq, byday, opens, closes = schedule
            extra = dict(details)
            online_only = extra.pop("no_venue", False)
            needs = [
                code
                for code, (_, _, helped_by) in NEEDS.items()
                if set(categories) & set(helped_by)
            ]
            activity = ActivityCreate(
                organisation_id=organisation.id,
                name=f"{title} ({name})" if number == 0 else title,
                description=description,
                eligibility_description="Open to adults in Bristol"
                if "minimum_age" not in extra
                else "",
                suits=extra.pop("suits", "Anyone who would enjoy it; come as you are"),
                does_not_suit=extra.pop("does_not_suit", "Not a crisis service"),
                status="temporarily closed" if (index + number) % 23 == 0 else "active",
                schedules=[{"freq": freq, "byday": byday, "opens_at": opens, "closes_at": closes}],
                term_ids=[terms[code].id for code in [*categories, *needs[:3]]],
                venue_ids=[] if online_only else [venue_ids[venue_key]],
                # Spread confirmations over the last nine months so freshness varies.
                last_confirmed_at=now - timedelta(days=(index * 7 + number * 31) % 270),
                email=f"hello@{slug}.example.org",
                **extra,
            )
            created = activities.create_activity(session, SYSTEM, activity)
            _vary_capacity(session, created.id, index + number, now)
            activity_count += 1
        _seed_assurance(session, organisation.id, index, now, terms)
        if index == 0:
            _seed_demo_accounts(session, organisation.id)
            _seed_christmas_closure(session, organisation.id, now)
            first = organisation
        if index == 1:
            _seed_joining(session, first, organisation)
    _seed_areas(session)
    return len(ORGANISATIONS), activity_count


def _seed_christmas_closure(session: Session, organisation_id: uuid.UUID, now) -> None:
    """The coming Christmas closure, so search results and summaries show one."""
    today = uk_today(now)
    year = today.year if today <= date(today.year, 12, 24) else today.year + 1
    closures.create_closure(
        session,
        organisation_id,
        ClosureCreate(
            starts_on=date(year, 12, 24),
            ends_on=date(year + 1, 1, 2),
            reason="Closed for Christmas",
        ),
    )


def _seed_areas(session: Session) -> None:
    """The City of Bristol, its demo neighbourhoods and PCNs, and each organisation's
    typed areas matched onto them."""
    local_authorities(session, "ENG", {BRISTOL})
    bristol = session.exec(select(Area).where(Area.name == BRISTOL)).one()
    for name, kind, code, places in AREAS:
        create_area(
            session,
            AreaCreate(kind=kind, name=name, code=code, parent_id=bristol.id, places=places),
        )
    match_served_areas(session)


def _seed_joining(session: Session, first: Organisation, second: Organisation) -> None:
    """A pending invitation (to the first organisation, from its demo admin) and a pending
    claim (on the second, by the demo claimant), so stewards and admins see both flows."""
    from app.accounts.models import User
    from app.accounts.principal import Principal
    from app.claims.models import OrganisationClaim
    from app.invitations.schemas import OrganisationInvitationCreate
    from app.invitations.service import invite_to_organisation

    by_email = {
        u.email: u
        for u in session.exec(select(User).where(User.email.like("%@demo.signpost.example")))
    }
    inviter = by_email["orgadmin@demo.signpost.example"]
    invite_to_organisation(
        session,
        Principal(kind="user", id=inviter.id, memberships={first.id: OrganisationRole.admin}),
        first.id,
        OrganisationInvitationCreate(email="volunteer@demo.signpost.example"),
    )
    domain = (second.website or "").split("//", 1)[-1]
    session.add(
        OrganisationClaim(
            organisation_id=second.id,
            claimant_id=by_email["claimant@demo.signpost.example"].id,
            charity_number=second.charity_number,
            role_email=f"coordinator@{domain}",
            note="I coordinate this group; our listing was added by the council.",
        )
    )
    session.flush()


def _vary_capacity(session: Session, activity_id: uuid.UUID, seed: int, now) -> None:
    """Some activities count places, cap weekly referrals, run a waiting list or pause."""
    changes: dict = {}
    if seed % 3 == 0:
        changes |= {"maximum": 12, "available": seed % 5}
    if seed % 5 == 0:
        changes["weekly_referral_cap"] = 3
    if seed % 13 == 0:
        changes |= {"status": "waitlist", "waiting_list_length": 4}
    elif seed % 11 == 0:
        changes |= {
            "status": "paused",
            "pause_reason": "staff_capacity",
            "paused_until": now + timedelta(days=14),
            "pause_note": "Back after our volunteer training fortnight",
        }
    if changes:
        capacity.update_capacity(session, capacity.get_capacity(session, activity_id), changes, now)


DEMO_STEWARD = Principal(kind="system", role=GlobalRole.steward)


def _seed_assurance(session: Session, organisation_id, index: int, now, terms) -> None:
    """A quarter assured (one with insurance expiring soon), a quarter awaiting review, a
    quarter lapsed, a quarter with nothing on record."""
    state = index % 4
    if state == 3:
        return
    today = now.date()
    insurance_ends = today + timedelta(days=20 if index % 8 == 0 else 200)
    bodies = [
        AssuranceItemCreate(
            kind="safeguarding_policy",
            has_policy=True,
            last_reviewed_on=today - timedelta(days=60),
            review_due_on=today + timedelta(days=305),
            evidence_reference=f"DOC-SG-{index:03d}",
        ),
        AssuranceItemCreate(
            kind="public_liability_insurance",
            insurer="Community Mutual (fictional)",
            cover_amount=5_000_000,
            expires_on=insurance_ends,
            evidence_reference=f"DOC-PLI-{index:03d}",
        ),
        AssuranceItemCreate(kind="ico_registration", registration_number=f"ZA{100000 + index}"),
        AssuranceItemCreate(
            kind="training",
            training_type_id=terms["mental-health-first-aid"].id,
            staff_trained=1,
            volunteers_trained=3 + index % 5,
            completed_on=today - timedelta(days=90),
            expires_on=today + timedelta(days=3 * 365 - 90),
        ),
    ]
    for body in bodies:
        item = assurance.create_item(session, SYSTEM, organisation_id, body, now)
        if state != 1:
            assurance.verify_item(session, DEMO_STEWARD, item, now)
        if state == 2 and item.kind == "public_liability_insurance":
            item.expires_on = item.lapses_on = today - timedelta(days=10)  # it has lapsed
            session.add(item)
            session.flush()
            assurance.refresh_index(session, organisation_id)


# One account per role, all with the demo password (SIGNPOST_DEMO_PASSWORD).
DEMO_ACCOUNTS = [
    ("admin@demo.signpost.example", "Demo Admin", GlobalRole.admin, None),
    ("steward@demo.signpost.example", "Demo Steward", GlobalRole.steward, None),
    ("commissioner@demo.signpost.example", "Demo Commissioner", GlobalRole.commissioner, None),
    ("linkworker@demo.signpost.example", "Demo Link Worker", GlobalRole.link_worker, None),
    ("orgadmin@demo.signpost.example", "Demo Organisation Admin", None, OrganisationRole.admin),
    ("editor@demo.signpost.example", "Demo Organisation Editor", None, OrganisationRole.editor),
    # Signed up, runs the second demo organisation, and has claimed it: a steward decides.
    ("claimant@demo.signpost.example", "Demo Claimant", None, None),
]


def _seed_demo_accounts(session: Session, organisation_id: uuid.UUID) -> None:
    password = get_settings().demo_password.get_secret_value()
    for email, name, role, organisation_role in DEMO_ACCOUNTS:
        accounts.create_user(
            session, UserCreate(email=email, display_name=name, password=password, role=role)
        )
        if organisation_role:
            accounts.add_member(session, organisation_id, email, organisation_role)
