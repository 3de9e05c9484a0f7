"""Safe retries: a creating POST sent again with the same ``Idempotency-Key`` gets the first
answer back and creates nothing new (draft-ietf-httpapi-idempotency-key-header).

Two halves share the request's ``state``:

- :func:`idempotent`, a dependency on each creating route, runs after authentication. It
  replays a stored answer, refuses a key reused with another body (422) or still in flight
  (409), or claims the key by inserting an in-flight row in its own committed transaction,
  so a concurrent duplicate sees the claim.
- :class:`IdempotencyMiddleware` watches the answer go out and, for a claimed key, stores
  a 2xx answer (encrypted: it may hold personal data) or releases the claim otherwise, so
  a failed attempt can be retried with the same key.

Keys are scoped to the caller and kept 24 hours (``signpost purge`` deletes older ones).
"""

import hashlib
from datetime import timedelta
from typing import Annotated

import anyio
from fastapi import Depends, Header, Request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.accounts.deps import CurrentPrincipal
from app.core import crypto
from app.core.db import get_engine
from app.core.errors import Conflict, InvalidField
from app.core.types import utcnow
from app.idempotency.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
# A claim this old with no answer belongs to a request that died; the key is free again.
ABANDONED_AFTER = timedelta(minutes=2)
_STATE_KEY = "idempotency_key"
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
    await anyio.to_thread.run_sync(_claim, record_key, request_hash)
    request.state.idempotency_key = record_key


def _claim(record_key: str, request_hash: str) -> None:
    now = utcnow()
    with Session(get_engine()) as session:
        record = session.get(IdempotencyRecord, record_key)
        if record is not None and (
            record.expires_at <= now
            or (record.status is None and now - record.created_at > ABANDONED_AFTER)
        ):
            session.delete(record)
            session.flush()
            record = None
        if record is None:
            session.add(
                IdempotencyRecord(
                    key=record_key, request_hash=request_hash, expires_at=now + KEEP_FOR
                )
            )
            try:
                session.commit()
                return
            except IntegrityError:  # a concurrent duplicate claimed it first
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
        if record.status is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry shortly"
            )
        raise Replay(crypto.decrypt(record.response))


Idempotent = Depends(idempotent)


def _finish(record_key: str, status: int, headers: dict[str, str], body: bytes) -> None:
    with Session(get_engine()) as session:
        record = session.get(IdempotencyRecord, record_key)
        if record is None:
            return
        if 200 <= status < 300:
            record.status = status
            record.response = crypto.encrypt(
                {"status": status, "headers": headers, "body": body.decode("utf-8")}
            )
            session.add(record)
        else:
            session.delete(record)  # nothing was created: the same key may try again
        session.commit()


def purge_expired(session: Session) -> int:
    result = session.exec(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow()))
    return result.rowcount or 0


class IdempotencyMiddleware:
    """Store the answer to a request whose key :func:`idempotent` claimed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        status, headers, body = 500, {}, bytearray()

        async def capture(message: Message) -> None:
            nonlocal status
            if _STATE_KEY in state:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    for name, value in message.get("headers", []):
                        if name.decode("latin-1").lower() in _REPLAYED_HEADERS:
                            headers[name.decode("latin-1")] = value.decode("latin-1")
                elif message["type"] == "http.response.body":
                    body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if (record_key := state.get(_STATE_KEY)) is not None:
                await anyio.to_thread.run_sync(_finish, record_key, status, headers, bytes(body))
