import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditPage, VerifyOut
from app.core.deps import CurrentUser, SessionDep

router = APIRouter(tags=["audit"])


@router.get("/audit/events", response_model=AuditPage)
def list_events(
    actor: CurrentUser,
    session: SessionDep,
    operation_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    filters = service.AuditFilter(operation_id=operation_id, actor_id=actor_id, action=action, since=since,
                                  until=until, after_seq=after_seq)
    return service.list_events(session=session, actor=actor, filters=filters, limit=limit)


@router.get("/audit/verify", response_model=VerifyOut)
def verify(actor: CurrentUser, session: SessionDep):
    return service.verify(session=session, actor=actor)
