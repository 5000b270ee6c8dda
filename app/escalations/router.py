"""Rumour escalation over HTTP: thin; the rules are in service.py."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from app.core.deps import CurrentUser, SessionDep, SettingsDep, SignInToken
from app.core.routing import TransactionRoute
from app.escalations import service
from app.escalations.intake import intake
from app.escalations.schemas import (
    AssignIn,
    AttachmentPublic,
    EscalationCreate,
    EscalationDetail,
    EscalationPublic,
    GroupPublic,
    MergeIn,
    NoteIn,
    SplitIn,
    TransitionIn,
)
from app.escalations.workflow import EscalationStatus

router = APIRouter(tags=["escalations"], route_class=TransactionRoute)
Since = Annotated[datetime | None, Query(description="Only what changed at or after this time (UTC ISO 8601)")]
Limit = Annotated[int, Query(ge=1, le=service.LIST_LIMIT)]
CREATED = {200: {"description": "The same client_id again: the report already made", "model": EscalationPublic}}


@router.post(
    "/operations/{operation_id}/escalations",
    response_model=EscalationPublic,
    status_code=201,
    responses=CREATED,
)
async def create_escalation(operation_id: uuid.UUID, body: EscalationCreate, caller: SignInToken, response: Response):
    escalation, created = await intake().report(operation_id, caller, body)  # recorded with those queued with it
    response.status_code = 201 if created else 200
    return escalation


@router.get("/operations/{operation_id}/escalations", response_model=list[EscalationPublic])
def list_escalations(
    operation_id: uuid.UUID,
    actor: CurrentUser,
    session: SessionDep,
    status: EscalationStatus | None = None,
    since: Since = None,
    limit: Limit = service.LIST_LIMIT,
):
    return service.list_escalations(
        session=session, actor=actor, operation_id=operation_id, status=status, since=since, limit=limit
    )


@router.get("/operations/{operation_id}/escalation-queue", response_model=list[GroupPublic])
def escalation_queue(
    operation_id: uuid.UUID,
    actor: CurrentUser,
    session: SessionDep,
    status: EscalationStatus | None = None,
    since: Since = None,
    limit: Limit = service.LIST_LIMIT,
):
    return service.queue(
        session=session, actor=actor, operation_id=operation_id, status=status, since=since, limit=limit
    )


@router.get("/escalations/{escalation_id}", response_model=EscalationDetail)
def get_escalation(escalation_id: uuid.UUID, actor: CurrentUser, session: SessionDep):
    return service.get_escalation(session=session, actor=actor, escalation_id=escalation_id)


@router.post("/escalations/{escalation_id}/transition", response_model=EscalationDetail)
def transition(escalation_id: uuid.UUID, body: TransitionIn, actor: CurrentUser, session: SessionDep):
    return service.transition(session=session, actor=actor, escalation_id=escalation_id, data=body)


@router.post("/escalations/{escalation_id}/assign", response_model=EscalationDetail)
def assign(escalation_id: uuid.UUID, body: AssignIn, actor: CurrentUser, session: SessionDep):
    return service.assign(
        session=session,
        actor=actor,
        escalation_id=escalation_id,
        assignee_id=body.assignee_id,
        note=body.note,
    )


@router.post("/escalations/{escalation_id}/notes", response_model=EscalationDetail)
def add_note(escalation_id: uuid.UUID, body: NoteIn, actor: CurrentUser, session: SessionDep):
    return service.add_note(session=session, actor=actor, escalation_id=escalation_id, note=body.note)


@router.post("/escalations/{escalation_id}/merge", response_model=EscalationDetail)
def merge(escalation_id: uuid.UUID, body: MergeIn, actor: CurrentUser, session: SessionDep):
    return service.merge(session=session, actor=actor, escalation_id=escalation_id, into=body.into, note=body.note)


@router.post("/escalations/{escalation_id}/split", response_model=EscalationDetail)
def split(escalation_id: uuid.UUID, body: SplitIn, actor: CurrentUser, session: SessionDep):
    return service.split(session=session, actor=actor, escalation_id=escalation_id, note=body.note)


@router.post(
    "/escalations/{escalation_id}/attachments",
    response_model=AttachmentPublic,
    status_code=201,
    responses={200: {"description": "The same photo again", "model": AttachmentPublic}},
)
async def add_attachment(
    escalation_id: uuid.UUID,
    file: Annotated[UploadFile, File()],
    actor: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
):
    raw = await file.read(settings.max_upload_bytes + 1)
    attachment, created = await _in_thread(
        service.add_photo,
        session=session,
        settings=settings,
        actor=actor,
        escalation_id=escalation_id,
        raw=raw,
    )
    response.status_code = 201 if created else 200
    return attachment


@router.get(
    "/escalations/{escalation_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def get_attachment(
    escalation_id: uuid.UUID,
    attachment_id: uuid.UUID,
    actor: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
):
    data, content_type = service.read_photo(
        session=session,
        settings=settings,
        actor=actor,
        escalation_id=escalation_id,
        attachment_id=attachment_id,
    )
    return Response(
        data,
        media_type=content_type,
        headers={"Content-Disposition": "inline", "Cache-Control": "private, no-store"},
    )


async def _in_thread(function, **kwargs):
    """Decoding and re-encoding a photo takes CPU time: keep it off the event loop."""
    return await run_in_threadpool(function, **kwargs)
