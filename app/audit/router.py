import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from app.audit import (
    checkpoints,  # noqa: F401  (registers the signing key, checkpoint task and hook)
    export,
    retention,
    service,
    signing,
)
from app.audit.schemas import AuditPage, AuditTotals, Manifest, PublicKeyOut, RetentionIn, RetentionOut, VerifyOut
from app.core.deps import CurrentUser, SessionDep, SettingsDep
from app.core.routing import TransactionRoute

router = APIRouter(tags=["audit"], route_class=TransactionRoute)


def audit_filter(
    operation_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=64, description="a dotted action name, e.g. template.used")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: Annotated[int | None, Query(ge=0, description="events after this seq (paging)")] = None,
    from_seq: Annotated[int | None, Query(ge=1, description="first seq of a range (inclusive)")] = None,
    to_seq: Annotated[int | None, Query(ge=1, description="last seq of a range (inclusive)")] = None,
    q: Annotated[str | None, Query(max_length=200, description="free text over action, target and details")] = None,
) -> service.AuditFilter:
    return service.AuditFilter(operation_id=operation_id, actor_id=actor_id, action=action, since=since,
                               until=until, after_seq=after_seq, from_seq=from_seq, to_seq=to_seq, q=q)


FilterDep = Annotated[service.AuditFilter, Depends(audit_filter)]


@router.get("/audit/events", response_model=AuditPage)
def list_events(actor: CurrentUser, session: SessionDep, filters: FilterDep,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    return service.list_events(session=session, actor=actor, filters=filters, limit=limit)


@router.get("/audit/totals", response_model=AuditTotals)
def totals(actor: CurrentUser, session: SessionDep, filters: FilterDep):
    """How many events of each action match the filters."""
    return service.totals(session=session, actor=actor, filters=filters)


@router.get("/audit/export", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}},
                             "description": "the export, streamed"}})
def export_events(actor: CurrentUser, session: SessionDep, settings: SettingsDep, filters: FilterDep,
                  format: Literal["csv", "jsonl"] = "jsonl"):  # noqa: A002  (the contract's name)
    plan = export.start_export(session, actor=actor, filters=filters, fmt=format)
    # The export is on record before its first byte leaves; commit now so the download does not hold the
    # request's transaction (on SQLite, the writers' lock) for as long as it lasts.
    session.commit()
    headers = {"Content-Disposition": f'attachment; filename="{plan.file_name}"',
               "X-Audit-Count": str(plan.count), "X-Audit-To-Seq": str(plan.filters.to_seq),
               "Cache-Control": "no-store"}
    return StreamingResponse(export.stream(plan, settings=settings, exporter=actor),
                             media_type=export.MEDIA_TYPES[format], headers=headers)


@router.get("/audit/export/manifest", response_model=Manifest)
def export_manifest(actor: CurrentUser, session: SessionDep, settings: SettingsDep, filters: FilterDep,
                    format: Literal["csv", "jsonl"] = "csv"):  # noqa: A002
    """The signed manifest of the export with these filters. Pass `to_seq` from the export's
    `X-Audit-To-Seq` header so it describes exactly the downloaded bytes."""
    plan = export.plan_export(session, actor=actor, filters=filters, fmt=format)
    session.commit()  # the manifest re-reads the export in short transactions of its own
    return export.manifest_for(None, plan, settings=settings, exporter=actor)


@router.get("/audit/public-key", response_model=PublicKeyOut)
def public_key(actor: CurrentUser, settings: SettingsDep):
    return signing.public_key_info(actor=actor, settings=settings)


@router.get("/audit/verify", response_model=VerifyOut)
def verify(actor: CurrentUser, session: SessionDep, settings: SettingsDep):
    # A full verify reads the whole chain: end the request's transaction first (on SQLite it holds the
    # writers' lock), the service reads in short transactions of its own.
    session.commit()
    return service.verify(actor=actor, settings=settings)


@router.get("/audit/retention/{operation_id}", response_model=RetentionOut)
def get_retention(operation_id: uuid.UUID, actor: CurrentUser, session: SessionDep):
    return retention.get_retention(session=session, actor=actor, operation_id=operation_id)


@router.put("/audit/retention/{operation_id}", response_model=RetentionOut)
def set_retention(operation_id: uuid.UUID, body: RetentionIn, actor: CurrentUser, session: SessionDep):
    return retention.set_retention(session=session, actor=actor, operation_id=operation_id,
                                   retain_days=body.retain_days)
