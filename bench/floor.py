"""The least any HTTP handler on this stack can do for a search: `bench/search.py` serves
this next to the API, on the same server (uvicorn, the same workers), and times it beside
the API and the bare SQL.

A request names one of the pages `bench/search.py` compiled (`GET /?label=…&n=…`); the
handler runs that page's statement through psycopg, on a connection of its own with the
settings the application's connections have (no JIT), and answers with the rows as JSON.
No authentication, no parsing of search parameters, no planning, no dressing, no framework:
what is left is the socket, the HTTP server, one round trip to PostgreSQL and encoding the
rows. The API's time over this handler's is what the application adds; this handler's time
over the bare SQL is what serving over HTTP costs at all, which no application can avoid.

Not part of the application: run only by `bench/search.py` (BENCH_FLOOR_PAGES names the
file of compiled pages, written by it).
"""

import os
import pickle
from pathlib import Path
from urllib.parse import parse_qs

import psycopg
import pydantic_core

PAGES: dict[str, list[tuple[str, dict]]] = pickle.loads(
    Path(os.environ["BENCH_FLOOR_PAGES"]).read_bytes()
)
DSN = os.environ["BENCH_FLOOR_DSN"]
_connection: psycopg.Connection | None = None


def _rows(label: str, n: int) -> bytes:
    global _connection
    if _connection is None:
        _connection = psycopg.connect(DSN, autocommit=True, options="-c jit=off")
    cursor = _connection.execute(*PAGES[label][n])
    names = [column.name for column in cursor.description or []]
    return pydantic_core.to_json([dict(zip(names, row, strict=True)) for row in cursor])


async def app(scope, receive, send) -> None:
    """A bare ASGI application (served with `--lifespan off`): one route, blocking on the
    database on the event loop, which has nothing else to do."""
    query = parse_qs(scope["query_string"].decode())
    body = _rows(query["label"][0], int(query["n"][0]))
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
