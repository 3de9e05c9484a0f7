"""Optimistic concurrency: ETags from a version column, If-Match required on updates.

The version column is also SQLAlchemy's ``version_id_col``, so two writers that pass the
If-Match check at the same moment still cannot both win: the second UPDATE matches no
row and becomes a 412 (see ``errors._on_stale``).
"""

from typing import Annotated

from fastapi import Header, Response
from sqlalchemy import Column, Integer

from app.core.errors import PreconditionFailed, PreconditionRequired

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=(
            'The ETag from your last read, e.g. "3", or * for whatever is current; '
            "required to change a listing"
        ),
        max_length=100,
    ),
]


def version_column() -> Column:
    return Column("version", Integer, nullable=False)


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    if if_match is None:
        raise PreconditionRequired(
            "Send If-Match with the ETag you read, so nobody's change is overwritten"
        )
    offered = {tag.strip() for tag in if_match.split(",")}
    # RFC 9110 §13.1.1: "*" matches any current version; If-Match uses the strong
    # comparison, so a weak tag (W/"3") never matches.
    if "*" in offered:
        return
    if etag(version) not in offered:
        raise PreconditionFailed(
            f"The resource has changed since you read it (it is now {etag(version)}); "
            "read it again and reapply your change"
        )
