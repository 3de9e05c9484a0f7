"""UK postcode normalisation: "se1 7pb", "SE17PB" and "SE1 7PB" are one postcode."""

import re

_FULL = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
_OUTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")


def normalise_postcode(value: str) -> str:
    """Return the postcode as "OUT IN" in capitals, or raise ValueError."""
    compact = re.sub(r"\s+", "", value).upper()
    match = _FULL.match(compact)
    if not match:
        raise ValueError("is not a valid UK postcode")
    return f"{match.group(1)} {match.group(2)}"


def outcode_of(postcode: str) -> str:
    return normalise_postcode(postcode).split(" ", 1)[0]


def is_outcode(value: str) -> bool:
    return bool(_OUTCODE.match(re.sub(r"\s+", "", value).upper()))
