import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.core.deps import CurrentUser, SessionDep
from app.core.routing import TransactionRoute
from app.operations import service
from app.operations.access import OperationAccess, operation_access
from app.operations.schemas import (
    BriefingAckOut,
    BriefingIn,
    BriefingReminderIn,
    BriefingReminderOut,
    BriefingStatusOut,
    DecisionIn,
    DecisionPublic,
    DocumentIn,
    MemberIn,
    MemberPublic,
    OperationCreate,
    OperationPublic,
    OperationUpdate,
)
from app.operations.workflow import OperationStatus

router = APIRouter(tags=["operations"], route_class=TransactionRoute)


def _access(operation_id: uuid.UUID, actor: CurrentUser, session: SessionDep) -> OperationAccess:
    return operation_access(session, actor=actor, operation_id=operation_id)


AccessDep = Annotated[OperationAccess, Depends(_access)]


@router.post("/operations", response_model=OperationPublic, status_code=201)
def create_operation(body: OperationCreate, actor: CurrentUser, session: SessionDep):
    return service.to_public(session, service.create_operation(session=session, actor=actor, data=body))


@router.get("/operations", response_model=list[OperationPublic])
def list_operations(actor: CurrentUser, session: SessionDep, status: OperationStatus | None = None):
    accesses = service.list_operations(session=session, actor=actor, status=status)
    return [service.to_public(session, access) for access in accesses]


@router.get("/operations/{operation_id}", response_model=OperationPublic)
def get_operation(access: AccessDep, session: SessionDep):
    return service.to_public(session, access)


@router.patch("/operations/{operation_id}", response_model=OperationPublic)
def update_operation(access: AccessDep, body: OperationUpdate, session: SessionDep):
    return service.to_public(session, service.update_operation(session=session, access=access, data=body))


@router.put("/operations/{operation_id}/strategy", response_model=OperationPublic)
def publish_strategy(access: AccessDep, body: DocumentIn, session: SessionDep):
    service.publish_document(session, access=access, kind="strategy", text=body.text,
                             engagement=body.engagement)
    return service.to_public(session, access)


@router.put("/operations/{operation_id}/briefing", response_model=OperationPublic)
def publish_briefing(access: AccessDep, body: BriefingIn, session: SessionDep):
    service.publish_document(session, access=access, kind="briefing", text=body.text,
                             engagement=body.engagement, rationale=body.rationale)
    return service.to_public(session, access)


@router.get("/operations/{operation_id}/members", response_model=list[MemberPublic])
def list_members(access: AccessDep, session: SessionDep):
    return service.list_members(session=session, access=access)


@router.put("/operations/{operation_id}/members/{user_id}", response_model=MemberPublic)
def set_member(access: AccessDep, user_id: uuid.UUID, body: MemberIn, session: SessionDep):
    service.set_member(session=session, access=access, user_id=user_id, role=body.role, group=body.group)
    return next(m for m in service.list_members(session=session, access=access) if m.user_id == user_id)


@router.delete("/operations/{operation_id}/members/{user_id}", status_code=204)
def remove_member(access: AccessDep, user_id: uuid.UUID, session: SessionDep):
    service.remove_member(session=session, access=access, user_id=user_id)
    return Response(status_code=204)


@router.post("/operations/{operation_id}/briefing/ack", response_model=BriefingAckOut)
def acknowledge_briefing(access: AccessDep, session: SessionDep):
    return service.acknowledge_briefing(session=session, access=access)


@router.get("/operations/{operation_id}/briefing/status", response_model=BriefingStatusOut)
def briefing_status(access: AccessDep, session: SessionDep):
    return service.briefing_status(session=session, access=access)


@router.post("/operations/{operation_id}/briefing/remind", response_model=BriefingReminderOut)
def remind_briefing(access: AccessDep, session: SessionDep, body: BriefingReminderIn | None = None):
    message = body.message if body else None
    return service.remind_unacknowledged(session=session, access=access, message=message)


@router.get("/operations/{operation_id}/decisions", response_model=list[DecisionPublic])
def list_decisions(access: AccessDep, session: SessionDep):
    return service.list_decisions(session=session, access=access)


@router.post("/operations/{operation_id}/decisions", response_model=DecisionPublic, status_code=201)
def record_decision(access: AccessDep, body: DecisionIn, session: SessionDep):
    return service.record_decision(session=session, access=access, data=body)
