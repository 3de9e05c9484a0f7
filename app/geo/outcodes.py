"""Outcode centroids shipped with the project (CC0; see data/uk-outcodes.LICENSE)."""

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "uk-outcodes.csv"


@dataclass(frozen=True)
class Outcode:
    code: str
    latitude: float
    longitude: float
    town: str
    region: str
    country: str  # ENG, WLS, SCT, NIR, or a Crown dependency


@lru_cache
def outcodes() -> dict[str, Outcode]:
    with DATA.open(newline="", encoding="utf-8") as handle:
        return {
            row["postcode"]: Outcode(
                code=row["postcode"],
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                town=row["town"],
                region=row["region"],
                country=row["country"],
            )
            for row in csv.DictReader(handle)
        }


def centroid(code: str) -> Outcode | None:
    return outcodes().get(code.strip().upper())
