"""``signpost seed-demo``: a realistic fictional directory for Bristol, loaded once."""

import hashlib
import uuid
from datetime import timedelta

from sqlmodel import Session, func, select

from app.accounts import service as accounts
from app.accounts.models import GlobalRole, OrganisationRole
from app.accounts.principal import SYSTEM
from app.accounts.schemas import UserCreate
from app.activities import service as activities
from app.activities.schemas import ActivityCreate
from app.capacity import service as capacity
from app.core.config import get_settings
from app.core.types import utcnow
from app.demo.data import KINDS, ORGANISATIONS, VENUES
from app.geo.outcodes import centroid
from app.geo.postcodes import outcode_of
from app.organisations import service as organisations
from app.organisations.models import Organisation
from app.organisations.schemas import OrganisationCreate
from app.venues import service as venues
from app.venues.schemas import VenueCreate
from app.vocabulary.seed import NEEDS, seed_vocabulary


def _jitter(key: str) -> tuple[float, float]:
    """A stable offset of up to ~500 m, so venues in one outcode do not stack up."""
    digest = hashlib.sha256(key.encode()).digest()
    return (digest[0] - 128) / 128 * 0.0045, (digest[1] - 128) / 128 * 0.007


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def seed_demo(session: Session) -> tuple[int, int] | None:
    """Load the demo directory unless organisations already exist; return what was added."""
    if session.exec(select(func.count()).select_from(Organisation)).one():
        return None
    terms = seed_vocabulary(session)

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
        if index == 0:
            _seed_demo_accounts(session, organisation.id)
    return len(ORGANISATIONS), activity_count


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


# One account per role, all with the demo password (SIGNPOST_DEMO_PASSWORD).
DEMO_ACCOUNTS = [
    ("admin@demo.signpost.example", "Demo Admin", GlobalRole.admin, None),
    ("steward@demo.signpost.example", "Demo Steward", GlobalRole.steward, None),
    ("commissioner@demo.signpost.example", "Demo Commissioner", GlobalRole.commissioner, None),
    ("linkworker@demo.signpost.example", "Demo Link Worker", GlobalRole.link_worker, None),
    ("orgadmin@demo.signpost.example", "Demo Organisation Admin", None, OrganisationRole.admin),
    ("editor@demo.signpost.example", "Demo Organisation Editor", None, OrganisationRole.editor),
]


def _seed_demo_accounts(session: Session, organisation_id: uuid.UUID) -> None:
    password = get_settings().demo_password.get_secret_value()
    for email, name, role, organisation_role in DEMO_ACCOUNTS:
        accounts.create_user(
            session, UserCreate(email=email, display_name=name, password=password, role=role)
        )
        if organisation_role:
            accounts.add_member(session, organisation_id, email, organisation_role)
