"""Where is this person? Postcodes and outcodes to coordinates, with no network."""

import csv
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert
from sqlmodel import Session

from app.core.errors import InvalidField
from app.geo.models import Postcode
from app.geo.outcodes import centroid, outcodes
from app.geo.postcodes import is_outcode, normalise_postcode

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    outcode: str | None
    precision: str  # "postcode", "outcode" or "coordinates"
    note: str | None = None
    sector: str | None = None  # "BS5 6", when a full postcode was given


# Coordinates someone types are checked against their postcode's outcode: a swapped
# latitude and longitude, a lost minus sign or a 0,0 lands hundreds of kilometres away,
# while the largest outcodes (Highland and island districts) reach about 60 km from centre.
MANUAL_WITHIN_KM = 60.0


def resolve_postcode(session: Session, value: str, field: str = "query.postcode") -> Location:
    """A full postcode from the postcode table, else its outcode's centre (and say so);
    an outcode alone resolves to its centre. Anything else is a 422 naming ``field``."""
    compact = value.replace(" ", "").upper()
    if is_outcode(compact):
        area = centroid(compact)
        if area is None:
            raise InvalidField(field, f"{compact} is not a known UK outcode", "unknown_postcode")
        return Location(area.latitude, area.longitude, area.code, "outcode")
    try:
        postcode = normalise_postcode(value)
    except ValueError:
        raise InvalidField(field, f"{value!r} is not a valid UK postcode", "postcode") from None
    outcode = postcode.split(" ")[0]
    sector = postcode[:-2]
    found = _placed(session, postcode)
    if found is not None:
        return Location(found[0], found[1], outcode, "postcode", sector=sector)
    area = centroid(outcode)
    if area is None:
        raise InvalidField(field, f"{postcode} is in no known UK outcode", "unknown_postcode")
    return Location(
        area.latitude,
        area.longitude,
        outcode,
        "outcode",
        note=f"{postcode} is not in the postcode table; distances are from the {outcode} centre",
        sector=sector,
    )


# Where full postcodes lie, remembered by each worker for a while (a searched postcode is
# often searched again): the postcode table changes only when a file is imported. An entry
# costs about 270 bytes, so at most about 3 MB a worker (50,000 would be 13 MB of the 150 MB
# a worker may hold, issue #14); a worker that places more in ten minutes starts afresh.
_PLACED_SECONDS = 600
_PLACED_MAX = 10_000
_placed_cache: dict[str, tuple[tuple[float, float] | None, float]] = {}


def _placed(session: Session, postcode: str) -> tuple[float, float] | None:
    known = _placed_cache.get(postcode)
    if known is not None and known[1] > time.monotonic():
        return known[0]
    row = session.get(Postcode, postcode)
    place = (row.latitude, row.longitude) if row is not None else None
    if len(_placed_cache) >= _PLACED_MAX:
        _placed_cache.clear()
    _placed_cache[postcode] = (place, time.monotonic() + _PLACED_SECONDS)
    return place


def forget_placed() -> None:
    """The postcode table changed (an import; tests emptying it)."""
    _placed_cache.clear()


def check_near_postcode(session: Session, latitude: float, longitude: float, postcode: str):
    """Coordinates sent with a venue must lie in the UK, near its postcode; else a 422
    naming ``body.latitude`` (or ``body.postcode`` when that is in no known outcode)."""
    centre = resolve_postcode(session, postcode, "body.postcode")
    away = distance_km(latitude, longitude, centre.latitude, centre.longitude)
    if away > MANUAL_WITHIN_KM:
        raise InvalidField(
            "body.latitude",
            f"({latitude}, {longitude}) is {away:.0f} km from {postcode}: coordinates must lie "
            f"in the UK within {MANUAL_WITHIN_KM:.0f} km of the venue's postcode (check for "
            "swapped latitude and longitude or a lost minus sign)",
            "outside_uk",
        )


def nearest_outcode(latitude: float, longitude: float) -> str | None:
    """The outcode whose centre is nearest: coordinates are logged no finer than this."""
    best = min(
        outcodes().values(),
        key=lambda o: (
            (o.latitude - latitude) ** 2
            + ((o.longitude - longitude) * math.cos(math.radians(latitude))) ** 2
        ),
        default=None,
    )
    return best.code if best else None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def bounding_box(latitude: float, longitude: float, radius_km: float) -> tuple[float, ...]:
    """(lat_min, lat_max, lon_min, lon_max) enclosing the circle; a cheap indexed prefilter."""
    d_lat = math.degrees(radius_km / EARTH_RADIUS_KM)
    d_lon = math.degrees(
        radius_km / (EARTH_RADIUS_KM * max(math.cos(math.radians(latitude)), 0.01))
    )
    return latitude - d_lat, latitude + d_lat, longitude - d_lon, longitude + d_lon


# --- importing the ONS Postcode Directory / NSPL -------------------------------------------

# Column names in ONSPD and NSPL CSVs; "doterm" is set for postcodes no longer in use.
POSTCODE_COLUMNS = ("pcds", "pcd")
# The official geographies ONSPD (first names) and NSPL (second) give each postcode, by the
# kind of area (app.areas.models.AreaKind) they make: GSS codes of local authorities,
# wards, ICBs and sub-ICB locations.
OFFICIAL_COLUMNS = {
    "local_authority": ("oslaua", "laua"),
    "ward": ("osward", "ward"),
    "icb": ("icb",),
    "sub_icb": ("sicbl", "ccg"),
}
NO_LOCATION_LATITUDE = 99.999999  # how ONSPD marks postcodes without a grid reference


def read_postcode_file(
    path: Path,
    progress: Callable[[int], None] | None = None,
    codes: Callable[[str, dict[str, str]], None] | None = None,
) -> Iterator[Postcode]:
    """The file's live postcodes; ``progress`` is told how many bytes each line took;
    ``codes`` is given each postcode with its official codes by kind of area (the columns
    of ``OFFICIAL_COLUMNS`` the file has)."""

    def lines(handle) -> Iterator[str]:
        for raw in handle:
            if progress:
                progress(len(raw))
            yield raw.decode("utf-8-sig")

    with path.open("rb") as handle:
        reader = csv.DictReader(lines(handle))
        header = {name.lower(): name for name in reader.fieldnames or []}
        code_column = next((header[c] for c in POSTCODE_COLUMNS if c in header), None)
        if code_column is None or "lat" not in header or "long" not in header:
            raise ValueError("expected ONSPD/NSPL columns pcds (or pcd), lat and long")
        terminated = header.get("doterm")
        official = {
            kind: next(header[c] for c in names if c in header)
            for kind, names in OFFICIAL_COLUMNS.items()
            if any(c in header for c in names)
        }
        for row in reader:
            if terminated and row[terminated].strip():
                continue
            try:
                latitude, longitude = float(row[header["lat"]]), float(row[header["long"]])
                postcode = normalise_postcode(row[code_column])
            except ValueError:
                continue
            if abs(latitude - NO_LOCATION_LATITUDE) < 1e-6:
                continue
            if codes and official:
                codes(postcode, {kind: row[column].strip() for kind, column in official.items()})
            yield Postcode(
                postcode=postcode,
                outcode=postcode.split(" ")[0],
                latitude=latitude,
                longitude=longitude,
            )


def import_postcodes(
    session: Session,
    path: Path,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
    sectors: dict[str, dict[str, Counter]] | None = None,
) -> int:
    """Replace the postcode table with the file's live postcodes; returns how many.
    ``sectors`` (when given) collects, per kind of official area, how many of each postcode
    sector's postcodes carry each code."""
    forget_placed()
    session.exec(delete(Postcode))
    count = 0
    pending: list[dict] = []

    def tally(postcode: str, found: dict[str, str]) -> None:
        sector = postcode[:-2]
        for kind, code in found.items():
            if code and sectors is not None:
                sectors.setdefault(kind, {}).setdefault(sector, Counter())[code] += 1

    for postcode in read_postcode_file(path, progress, tally if sectors is not None else None):
        pending.append(postcode.model_dump())
        if len(pending) >= batch:
            session.execute(insert(Postcode), pending)
            count += len(pending)
            pending = []
    if pending:
        session.execute(insert(Postcode), pending)
        count += len(pending)
    session.flush()
    forget_placed()
    return count
