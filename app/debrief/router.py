from fastapi import APIRouter, Response

from app.core.deps import SessionDep, SettingsDep
from app.core.routing import TransactionRoute
from app.debrief import service
from app.debrief.schemas import (
    AppraisalIn,
    AppraisalPublic,
    CommendationIn,
    CommendationPublic,
    DebriefFormat,
    DebriefOut,
)
from app.operations.router import AccessDep

router = APIRouter(tags=["debrief"], route_class=TransactionRoute)

FILE_RESPONSES = {200: {"content": {"application/json": {}, "text/html": {}, "application/pdf": {},
                                    "text/csv": {}},
                        "description": "the debrief; html, pdf and csv as an attachment"}}


@router.get("/operations/{operation_id}/debrief", response_model=DebriefOut, responses=FILE_RESPONSES)
def debrief(access: AccessDep, session: SessionDep, settings: SettingsDep,
            format: DebriefFormat = DebriefFormat.JSON):
    if format == DebriefFormat.JSON:
        return service.build(session=session, access=access)
    exported = service.export(session=session, settings=settings, access=access, fmt=format)
    return Response(exported.content, media_type=exported.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{exported.filename}"',
                             "Cache-Control": "no-store"})


@router.post("/operations/{operation_id}/commendations", response_model=CommendationPublic, status_code=201)
def commend(access: AccessDep, body: CommendationIn, session: SessionDep, settings: SettingsDep):
    return service.commend(session=session, settings=settings, access=access, data=body)


@router.get("/operations/{operation_id}/commendations", response_model=list[CommendationPublic])
def list_commendations(access: AccessDep, session: SessionDep):
    return service.list_commendations(session=session, access=access)


@router.post("/operations/{operation_id}/appraisals", response_model=AppraisalPublic, status_code=201)
def appraise(access: AccessDep, body: AppraisalIn, session: SessionDep, settings: SettingsDep):
    return service.appraise(session=session, settings=settings, access=access, data=body)


@router.get("/operations/{operation_id}/appraisals", response_model=list[AppraisalPublic])
def list_appraisals(access: AccessDep, session: SessionDep):
    return service.list_appraisals(session=session, access=access)
