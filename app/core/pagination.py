"""The one list envelope (the Open Referral UK ``Page``) and its query parameters."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import pydantic_core
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import ScalarSelect, Select, func
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar
from starlette.responses import Response

from app.core.config import get_settings
from app.core.errors import InvalidField

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    total_items: int = Field(
        description="Items matching the filters, across all pages. Counted exactly up to "
        "SIGNPOST_EXACT_COUNT_LIMIT (1,000); beyond that it is a lower bound and "
        "`total_is_estimate` is true"
    )
    total_is_estimate: bool = Field(
        False,
        description="True when more items match than are counted exactly: `total_items` and "
        "`total_pages` are then lower bounds, and `last_page` still says whether a next page "
        "exists",
    )
    total_pages: int
    page_number: int = Field(description="This page, counting from 1")
    size: int = Field(description="Items on this page")
    first_page: bool
    last_page: bool
    empty: bool = Field(description="True when this page holds no items")
    contents: list[T]


@dataclass(frozen=True)
class PageParams:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


# Dependencies that do no I/O are ``async def``: FastAPI runs them on the event loop rather
# than handing each to the thread pool and back (a search had eleven such hops).
async def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")] = 1,
    per_page: Annotated[
        int | None,
        Query(
            ge=1,
            # The schema states this server's maximum (SIGNPOST_MAX_PAGE_SIZE, default 100).
            le=get_settings().max_page_size,
            description="Items per page (default SIGNPOST_DEFAULT_PAGE_SIZE, 20)",
        ),
    ] = None,
) -> PageParams:
    settings = get_settings()
    if per_page is None:
        per_page = settings.default_page_size
    if per_page > settings.max_page_size:
        raise InvalidField(
            "query.per_page",
            f"must be at most {settings.max_page_size}",
            "less_than_equal",
        )
    return PageParams(page=page, per_page=per_page)


PageDep = Annotated[PageParams, Depends(page_params)]


def capped_count(statement: Select, limit: int | None = None) -> ScalarSelect[int]:
    """How many rows ``statement`` matches, counting no further than one past ``limit``
    (``SIGNPOST_EXACT_COUNT_LIMIT`` unless given): a scalar subquery, so it travels with
    the page's own statement, and a count that never scans the whole country."""
    limit = get_settings().exact_count_limit if limit is None else limit
    matches = statement.order_by(None).limit(limit + 1).subquery()
    return select(func.count()).select_from(matches).correlate(None).scalar_subquery()


def paginate(
    session: Session,
    statement: SelectOfScalar[Any],
    params: PageParams,
    to_public: Callable[..., T],
) -> Page[T]:
    """One page of ``statement``'s matches, converted for the wire row by row
    (``to_public`` takes a row's columns), with their count (up to the limit) from the same
    round trip."""
    return _read_page(session, statement, params, lambda rows: [to_public(*r) for r in rows])


def paginate_many(
    session: Session,
    statement: SelectOfScalar[Any],
    params: PageParams,
    to_public: Callable[[list[Any]], list[T]],
) -> Page[T]:
    """``paginate`` for a statement of one entity whose conversion reads the whole page at
    once (one query for all its rows' related data): ``to_public`` takes the page's
    objects."""
    return _read_page(session, statement, params, lambda rows: to_public([r[0] for r in rows]))


def _read_page(session, statement, params: PageParams, convert) -> Page[Any]:
    page = statement.offset(params.offset).limit(params.per_page + 1)
    rows = session.execute(page.add_columns(capped_count(statement))).all()
    return page_of(
        convert([tuple(row[:-1]) for row in rows[: params.per_page]]),
        params,
        more=len(rows) > params.per_page,
        counted=rows[0][-1] if rows else None,
        count=lambda: session.execute(select(capped_count(statement))).scalar_one(),
    )


def page_of(
    rows: list[T],
    params: PageParams,
    more: bool,
    counted: int | None,
    count: Callable[[], int],
) -> Page[T]:
    """The envelope for one page read with one row more than it shows (``more``: that row
    was there) and ``capped_count`` beside it (``counted``; None when the page was empty,
    and then ``count()`` runs it alone, past the first page only)."""
    if counted is None:
        counted = count() if params.page > 1 else 0
    limit = get_settings().exact_count_limit
    if counted <= limit:
        return make_page(rows, counted, params)
    total = max(counted, params.offset + len(rows) + more)
    page = make_page(rows, total, params)
    return page.model_copy(update={"total_is_estimate": True, "last_page": not more})


def make_page(rows: list[T], total: int, params: PageParams) -> Page[T]:
    total_pages = math.ceil(total / params.per_page) if total else 0
    return Page(
        total_items=total,
        total_pages=total_pages,
        page_number=params.page,
        size=len(rows),
        first_page=params.page == 1,
        last_page=params.page >= total_pages,
        empty=not rows,
        contents=rows,
    )


@dataclass(frozen=True)
class JsonPage:
    """A page whose items are already JSON (read models pass stored JSON through): its
    envelope (a ``Page`` model holding no items) and the items, serialised once by
    ``json`` into exactly what the envelope's model would give with them inside."""

    envelope: BaseModel
    contents: list[dict[str, Any]]

    @classmethod
    def of(cls, model: type[BaseModel], page: Page[Any], **extra: Any) -> "JsonPage":
        """``page`` (holding JSON items) as a ``model`` envelope with ``extra`` fields."""
        return cls(model(**{**dict(page), "contents": [], **extra}), list(page.contents))

    def json(self) -> bytes:
        body = self.envelope.model_dump(mode="json", by_alias=True)
        body["contents"] = self.contents
        return pydantic_core.to_json(body)

    def response(self) -> Response:
        return Response(self.json(), media_type="application/json")
