from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, created_at_field


class IdempotencyRecord(SQLModel, table=True):
    """One ``Idempotency-Key`` a caller used on a creating POST, and the answer it got.

    ``key`` is a hash of the caller and their key, ``request_hash`` of the method, path and
    body; the answer is encrypted (it can hold personal data, e.g. a referral's contact)
    and the row is deleted after 24 hours. The row is written in the transaction of the
    request that claimed the key, so it commits with its answer or not at all (``status``
    is null only inside that transaction, or in rows an earlier version left behind).
    """

    __tablename__ = "idempotency_record"

    key: str = Field(primary_key=True, max_length=64)
    request_hash: str = Field(max_length=64)
    status: int | None = None
    response: str | None = Field(default=None, description="Fernet-encrypted headers and body")
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
