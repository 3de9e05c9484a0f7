from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import QueuePool

from app.core import schema_version
from app.core.db import get_engine
from app.core.errors import problem_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str | None = None
    migration: str | None = None


@router.get("/healthz")
def healthz() -> Health:
    """The process is up. For liveness probes; touches nothing else."""
    return Health(status="ok")


@router.get(
    "/readyz", responses={503: {"model": Health, "description": "Not ready"}, **problem_responses()}
)
def readyz() -> Health:
    """Ready for traffic: a pooled connection is free, the database answers (within
    SIGNPOST_DB_CONNECT_TIMEOUT_SECONDS) and its schema is at the latest migration."""
    engine = get_engine()
    pool = engine.pool
    if isinstance(pool, QueuePool) and pool.checkedout() >= pool.size():
        # every connection is in use: a load balancer should send its next request elsewhere
        body = Health(status="unavailable", database="busy: every pooled connection in use")
        return JSONResponse(body.model_dump(), status_code=503)
    head = schema_version.latest()
    try:
        with engine.connect() as connection:
            current = schema_version.current(connection)
    except Exception:
        return JSONResponse(
            Health(status="unavailable", database="unreachable").model_dump(), status_code=503
        )
    if current != head:
        body = Health(status="unavailable", database="ok", migration=f"{current} (head is {head})")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok", migration=current)
