"""Safe retries: a creating POST sent again with the same ``Idempotency-Key`` gets the first
answer back and creates nothing new (draft-ietf-httpapi-idempotency-key-header).

The key is claimed, and its answer stored, in the request's own transaction, so they commit
or roll back together with what the request creates. Whatever fails and wherever (the
database restarting between the work and the answer, a worker killed), a key is either
unused (nothing was created: the retry runs) or holds the answer of what was created (the
retry gets it back); never the one without the other.

- :func:`idempotent`, a dependency on each creating route, runs after authentication. It
  replays a stored answer, refuses a key reused with another body (422), or claims the key
  by inserting its row in the request's transaction. A concurrent duplicate's insert waits
  on the key until the first commits, then replays its answer (or, if the first rolled
  back, runs).
- :class:`IdempotentRoute` (the routers that have creating routes use it) writes the 2xx
  answer into the claimed row after the route has built it and before the transaction
  commits (app/core/db.py commits before the answer is sent).

Keys are scoped to the caller and kept 24 hours (``signpost purge`` deletes older ones).
"""

import hashlib
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Request
from fastapi.routing import APIRoute
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.responses import Response

from app.accounts.deps import CurrentPrincipal
from app.core import crypto
from app.core.db import SessionDep
from app.core.errors import Conflict, InvalidField
from app.core.types import utcnow
from app.idempotency.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
_STATE_KEY = "idempotency_claim"
_REPLAYED_HEADERS = ("content-type", "etag", "location")


class Replay(Exception):
    """Raised by the dependency to answer with a stored response instead of running."""

    def __init__(self, stored: dict) -> None:
        self.stored = stored


def replay_response(_request: Request, exc: Replay) -> Response:
    stored = exc.stored
    headers = {**stored["headers"], "Idempotent-Replayed": "true"}
    return Response(stored["body"], status_code=stored["status"], headers=headers)


def _hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x1f")
    return digest.hexdigest()


async def idempotent(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description=(
                "Any unique string (a UUID is ideal). Sending the same key and body again "
                "within 24 hours returns the first answer (with `Idempotent-Replayed: true`) "
                "and creates nothing new; the same key with another body is 422."
            ),
        ),
    ] = None,
) -> None:
    if key is None:
        return
    caller = f"{principal.kind}:{principal.id}"
    record_key = _hash(caller, key)
    request_hash = _hash(request.method, request.url.path, request.url.query, await request.body())
    record = await anyio.to_thread.run_sync(_claim, session, record_key, request_hash)
    request.state.idempotency_claim = (session, record)


def _claim(session: Session, record_key: str, request_hash: str) -> IdempotencyRecord:
    """Claim the key in the request's transaction, or raise what the retry should get."""
    record = session.get(IdempotencyRecord, record_key)
    if record is not None and (record.expires_at <= utcnow() or record.status is None):
        # Expired; or (status null) a claim committed apart from its work by an earlier
        # version: nothing says it created anything.
        session.delete(record)
        session.flush()
        record = None
    if record is None:
        record = IdempotencyRecord(
            key=record_key, request_hash=request_hash, expires_at=utcnow() + KEEP_FOR
        )
        session.add(record)
        try:
            session.flush()
            return record
        except IntegrityError:
            # A duplicate sent at the same moment committed first (this insert waited for
            # it). Nothing else was written yet: start again and give its answer.
            session.rollback()
            record = session.get(IdempotencyRecord, record_key)
            if record is None:
                raise Conflict(
                    "A request with this Idempotency-Key was just being processed; retry"
                ) from None
    if record.request_hash != request_hash:
        raise InvalidField(
            f"header.{HEADER}",
            "was already used for a different request; send a new key with a new request",
            "idempotency_key_reused",
        )
    raise Replay(crypto.decrypt(record.response))


Idempotent = Depends(idempotent)


class IdempotentRoute(APIRoute):
    """A route whose 2xx answer is kept with its Idempotency-Key claim, in the request's
    transaction: the handler below runs after the route built its response and before the
    session dependency commits."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def keep_answer(request: Request) -> Response:
            response = await handler(request)
            claim = getattr(request.state, _STATE_KEY, None)
            if claim is None:
                return response
            session, record = claim
            if 200 <= response.status_code < 300:
                headers = {
                    name: value
                    for name, value in response.headers.items()
                    if name.lower() in _REPLAYED_HEADERS
                }
                record.status = response.status_code
                record.response = crypto.encrypt(
                    {
                        "status": response.status_code,
                        "headers": headers,
                        "body": bytes(response.body).decode("utf-8"),
                    }
                )
            else:  # answered without creating anything: the key stays free for a retry
                session.delete(record)
            return response

        return keep_answer


def purge_expired(session: Session) -> int:
    result = session.exec(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow()))
    return result.rowcount or 0
