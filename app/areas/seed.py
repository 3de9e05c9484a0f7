"""Areas to start from: local authorities drawn from the shipped outcode table, and the
matching of organisations' typed `areas_served` onto areas.

The outcode table (``app/geo/data/uk-outcodes.csv``, CC0) names the local authority each
postcode district mostly lies in. A district that straddles a boundary counts wholly in
one authority, so these are approximations, good for comparing places; load the ONS
boundaries (by sector) for exact ones.
"""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.areas.models import Area, AreaKind, AreaPlace, OrganisationServedArea
from app.areas.schemas import AreaCreate
from app.areas.service import create_area, update_area
from app.geo.outcodes import centroid, outcodes
from app.organisations.models import Organisation

_GSS = re.compile(r"^[ENWSL][0-9]{8}$")  # ONS GSS codes; pseudo-codes (E99999999) excluded
_NOISE = re.compile(r"^(city of|county of|royal borough of|london borough of)\s+|\s+council$")


def local_authorities(
    session: Session, country: str = "ENG", only: set[str] | None = None
) -> tuple[int, int]:
    """Create the local authorities of ``country`` (ENG, WLS, SCT, NIR) that do not exist
    yet (by name), each holding its postcode districts; ``only``: just these names.
    Returns (created, already there)."""
    districts: dict[str, list[str]] = defaultdict(list)
    for code, outcode in outcodes().items():
        if (
            outcode.country == country
            and outcode.region
            and (only is None or outcode.region in only)
        ):
            districts[outcode.region].append(code)
    existing = set(
        session.exec(select(Area.name).where(Area.kind == AreaKind.local_authority)).all()
    )
    created = 0
    for name in sorted(districts):
        if name in existing:
            continue
        create_area(
            session,
            AreaCreate(kind=AreaKind.local_authority, name=name, places=sorted(districts[name])),
        )
        created += 1
    return created, len(districts) - created


def _plain(name: str) -> str:
    return _NOISE.sub("", name.strip().casefold())


@dataclass
class Matching:
    matched: dict[str, list[str]] = field(default_factory=dict)  # organisation -> areas
    unmatched: dict[str, list[str]] = field(default_factory=dict)  # organisation -> names


def match_served_areas(session: Session) -> Matching:
    """Declare, for every organisation, the areas its typed `areas_served` names (by area
    name, ignoring case and "City of", or by official code); say what matched nothing."""
    by_name: dict[str, Area] = {}
    for area in session.exec(select(Area)).all():
        by_name.setdefault(_plain(area.name), area)
        if area.code:
            by_name.setdefault(area.code.casefold(), area)
    districts = set(session.exec(select(AreaPlace.prefix)).all())
    outcome = Matching()
    for organisation in session.exec(select(Organisation).order_by(Organisation.name)).all():
        declared = set(
            session.exec(
                select(OrganisationServedArea.area_id).where(
                    OrganisationServedArea.organisation_id == organisation.id
                )
            ).all()
        )
        for name in organisation.areas_served:
            area = by_name.get(_plain(name)) or by_name.get(name.strip().casefold())
            if area is None:
                # A bare district ("BS5") is already counted through venues and areas.
                if name.strip().upper() not in districts:
                    outcome.unmatched.setdefault(organisation.name, []).append(name)
                continue
            if area.id not in declared:
                session.add(
                    OrganisationServedArea(organisation_id=organisation.id, area_id=area.id)
                )
                declared.add(area.id)
                outcome.matched.setdefault(organisation.name, []).append(area.name)
    session.flush()
    return outcome


def official_areas(session: Session, sectors: dict[str, dict[str, Counter]]) -> tuple[int, int]:
    """Create or redraw the official areas a postcode file names (``import_postcodes``'s
    tally: per kind, per sector, how many postcodes carry each GSS code). Each sector goes
    to the code most of its postcodes carry; an area found by its code keeps its name and
    parent and takes the new places; a new one is named by its code until a steward names
    it. Returns (created, redrawn)."""
    created = redrawn = 0
    for kind, by_sector in sectors.items():
        places: dict[str, list[str]] = defaultdict(list)
        for sector, counts in by_sector.items():
            code = counts.most_common(1)[0][0]
            if _GSS.match(code) and centroid(sector.split(" ")[0]) is not None:
                places[code].append(sector)
        for code, held in sorted(places.items()):
            existing = session.exec(select(Area).where(Area.code == code)).first()
            if existing is None:
                create_area(
                    session,
                    AreaCreate(kind=AreaKind(kind), name=code, code=code, places=sorted(held)),
                )
                created += 1
            else:
                update_area(session, existing, {"places": sorted(held)})
                redrawn += 1
    return created, redrawn
