"""The one list envelope (the Open Referral UK ``Page``) and its query parameters."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from app.core.config import get_settings
from app.core.errors import InvalidField

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    total_items: int = Field(description="Items matching the filters, across all pages")
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


def page_params(
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


def paginate(
    session: Session,
    statement: SelectOfScalar[Any],
    params: PageParams,
    to_public: Callable[[Any], T],
) -> Page[T]:
    """Count ``statement``'s matches and return one page of them, converted for the wire."""
    total = session.exec(
        select(func.count()).select_from(statement.order_by(None).subquery())
    ).one()
    rows = session.exec(statement.offset(params.offset).limit(params.per_page)).all()
    return make_page([to_public(row) for row in rows], total, params)


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
