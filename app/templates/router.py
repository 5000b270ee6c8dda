"""Reply templates over HTTP: parse, call one service function, return a schema."""

import asyncio
import uuid
import weakref
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.db import session_scope
from app.core.deps import CurrentUser, SessionDep, SettingsDep, get_principal
from app.operations.access import OperationAccess, operation_access
from app.templates import service
from app.templates.schemas import (
    ApproveIn,
    ImportIn,
    ImportOut,
    Library,
    RejectIn,
    RenderIn,
    RenderOut,
    TemplateCreate,
    TemplatePublic,
    TemplateQuery,
    TranslationCreate,
    UsageOut,
    VersionCreate,
)

router = APIRouter(tags=["templates"])


def _access(operation_id: uuid.UUID, actor: CurrentUser, session: SessionDep) -> OperationAccess:
    return operation_access(session, actor=actor, operation_id=operation_id)


def _context(template_id: uuid.UUID, actor: CurrentUser, session: SessionDep) -> service.TemplateContext:
    return service.load_context(session, actor=actor, template_id=template_id)


AccessDep = Annotated[OperationAccess, Depends(_access)]
ContextDep = Annotated[service.TemplateContext, Depends(_context)]
QueryDep = Annotated[TemplateQuery, Query()]


@router.get("/operations/{operation_id}/templates", response_model=list[TemplatePublic])
def list_for_operation(access: AccessDep, session: SessionDep, query: QueryDep):
    """Approved templates usable in the operation (global ones too), most used by you and your serial first;
    authors and approvers also see drafts and pending reviews."""
    return service.list_for_operation(session=session, access=access, query=query)


@router.get("/operations/{operation_id}/templates/usage", response_model=UsageOut)
def usage(access: AccessDep, session: SessionDep):
    return service.usage(session=session, access=access)


@router.get("/templates", response_model=list[TemplatePublic])
def list_library(
    actor: CurrentUser, session: SessionDep, query: QueryDep, operation_id: uuid.UUID | None = None
):
    """The global library, or with `operation_id` that operation's own templates."""
    return service.list_library(session=session, actor=actor, operation_id=operation_id, query=query)


@router.post("/templates", response_model=TemplatePublic, status_code=201)
def create_template(body: TemplateCreate, actor: CurrentUser, session: SessionDep):
    return service.present(session, service.create_template(session=session, actor=actor, data=body))


@router.get("/templates/export", response_model=Library)
def export_library(actor: CurrentUser, session: SessionDep, operation_id: uuid.UUID | None = None):
    """The approved library as JSON, for moving a vetted library to another force."""
    return service.export_library(session=session, actor=actor, operation_id=operation_id)


@router.post("/templates/import", response_model=ImportOut, status_code=201)
def import_library(body: ImportIn, actor: CurrentUser, session: SessionDep):
    """Imported templates arrive as drafts by the importer and need approval by someone else."""
    contexts = service.import_library(session=session, actor=actor, data=body)
    return ImportOut(imported=len(contexts), templates=[service.present(session, c) for c in contexts])


@router.get("/templates/{template_id}", response_model=TemplatePublic)
def get_template(context: ContextDep, session: SessionDep):
    return service.present(session, context)


@router.post("/templates/{template_id}/submit", response_model=TemplatePublic)
def submit(context: ContextDep, session: SessionDep):
    return service.present(session, service.submit(session=session, context=context))


@router.post("/templates/{template_id}/approve", response_model=TemplatePublic)
def approve(context: ContextDep, session: SessionDep, body: ApproveIn | None = None):
    expires_at = body.expires_at if body else None
    return service.present(session, service.approve(session=session, context=context, expires_at=expires_at))


@router.post("/templates/{template_id}/reject", response_model=TemplatePublic)
def reject(context: ContextDep, session: SessionDep, body: RejectIn):
    return service.present(session, service.reject(session=session, context=context, reason=body.reason))


@router.post("/templates/{template_id}/retire", response_model=TemplatePublic)
def retire(context: ContextDep, session: SessionDep):
    return service.present(session, service.retire(session=session, context=context))


@router.post("/templates/{template_id}/versions", response_model=TemplatePublic, status_code=201)
def revise(context: ContextDep, session: SessionDep, body: VersionCreate):
    return service.present(session, service.revise(session=session, context=context, data=body))


@router.post("/templates/{template_id}/translations", response_model=TemplatePublic, status_code=201)
def add_translation(context: ContextDep, session: SessionDep, body: TranslationCreate):
    return service.present(session, service.add_translation(session=session, context=context, data=body))


_bearer = HTTPBearer(auto_error=False, description="The access token from /api/v1/auth/login")
RENDER_THREADS = 8  # measured with bench/render.py: 8 beat 4 and the shared pool's 40


_render_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter]" = (
    weakref.WeakKeyDictionary())


def _render_limiter() -> anyio.CapacityLimiter:
    """Renders queue in the event loop for a few threads of their own rather than crowding the shared pool:
    a handful of threads keeps the database busy, and forty threads fighting over one interpreter lock
    (and, on SQLite, one write lock) only make every render slower. One limiter per event loop."""
    loop = asyncio.get_running_loop()
    if loop not in _render_limiters:
        _render_limiters[loop] = anyio.CapacityLimiter(RENDER_THREADS)
    return _render_limiters[loop]


@router.post("/templates/{template_id}/render", response_model=RenderOut, status_code=201,
             responses={200: {"model": RenderOut, "description": "The same client_id again: the recorded use"}})
async def render(template_id: uuid.UUID, body: RenderIn, settings: SettingsDep, response: Response,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]):
    """Fill the approved template's slots on the server and record the use (`client_id`: once only)."""
    # The hot path during an event. Sign-in check, render and commit run in ONE worker thread with their own
    # session: with the usual session dependency the connection (and on SQLite the write lock) taken while
    # checking the token is held while the request waits for a second worker thread, and under a crowd of
    # officers every thread ends up waiting for a connection held by a request that waits for a thread.

    def unit_of_work() -> tuple[dict, bool]:
        with session_scope() as session:
            actor = get_principal(session, settings, credentials).user
            use, replayed = service.render(session=session, actor=actor, template_id=template_id, data=body)
            return service.use_public(session, use, replayed), replayed

    result, replayed = await anyio.to_thread.run_sync(unit_of_work, limiter=_render_limiter())
    if replayed:
        response.status_code = 200
    return result
