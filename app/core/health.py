"""/healthz, /readyz and /metrics."""

from alembic.runtime.migration import MigrationContext
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.core.db import get_engine
from app.core.errors import problem
from app.core.migrations import head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz():
    return {"status": "ok"}


@router.get("/readyz")
def readyz():
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception:
        return problem(503, "Not ready", "The database cannot be reached.", type_slug="not-ready")
    head = head_revision()
    if current != head:
        return problem(503, "Not ready", f"Database schema is at {current}, expected {head}. Run `parley migrate`.",
                       type_slug="not-ready")
    return {"status": "ready", "database": "ok", "schema": current}


@router.get("/metrics")
def metrics():
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
