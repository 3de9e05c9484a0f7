"""The one CSV writer: every CSV the API sends goes through it.

Cells are neutralised against formula injection as OWASP advises: a text cell that begins
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'`` so Excel,
LibreOffice and Google Sheets show it as text instead of running it. Numbers stay numbers.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

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
