"""The one CSV writer: every CSV the API sends goes through it.

Cells are neutralised against formula injection as OWASP advises: a text cell that begins
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'`` so Excel,
LibreOffice and Google Sheets show it as text instead of running it. Numbers stay numbers.
"""

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Header, Query
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from app.core.db import get_read_engine

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_rows(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The header, then one line per row, each as soon as it is ready (for streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for values in ([*columns], *([row.get(c) for c in columns] for row in rows)):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([safe_cell(v) for v in values])
        yield buffer.getvalue()


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"


async def format_param(
    format_: Annotated[
        ReportFormat | None,
        Query(alias="format", description="json (default) or csv; or send Accept: text/csv"),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ReportFormat:
    if format_ is not None:
        return format_
    if accept and "text/csv" in accept:
        return ReportFormat.csv
    return ReportFormat.json


FormatDep = Annotated[ReportFormat, Depends(format_param)]
CSV_RESPONSE = {"text/csv": {"schema": {"type": "string"}}}


def csv_download(
    filename: str, columns: Sequence[str], produce: Callable[[Session], Iterable[dict[str, Any]]]
) -> StreamingResponse:
    """A CSV attachment streamed row by row from ``produce``, which reads in a session of
    its own (the request's is closed by the time the body streams)."""

    def lines() -> Iterator[str]:
        with Session(get_read_engine(), expire_on_commit=False) as session:
            yield from csv_rows(columns, produce(session))

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
