"""Reply templates over HTTP: parse, call one service function, return a schema."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.core.deps import CurrentUser, SessionDep, SignedInUser
from app.core.routing import TransactionRoute
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

router = APIRouter(tags=["templates"], route_class=TransactionRoute)


def _access(operation_id: uuid.UUID, actor: CurrentUser, session: SessionDep) -> OperationAccess:
    return operation_access(session, actor=actor, operation_id=operation_id)


def _context(template_id: uuid.UUID, actor: CurrentUser, session: SessionDep) -> service.TemplateContext:
    return service.load_context(session, actor=actor, template_id=template_id)


AccessDep = Annotated[OperationAccess, Depends(_access)]
ContextDep = Annotated[service.TemplateContext, Depends(_context)]
QueryDep = Annotated[TemplateQuery, Query()]


# First: routes are matched in order, and a render is the busiest request of all.
@router.post("/templates/{template_id}/render", response_model=RenderOut, status_code=201,
             responses={200: {"model": RenderOut, "description": "The same client_id again: the recorded use"}})
def render(template_id: uuid.UUID, body: RenderIn, actor: SignedInUser, session: SessionDep, response: Response):
    """Fill the approved template's slots on the server and record the use (`client_id`: once only)."""
    rendered = service.render(session=session, actor=actor, template_id=template_id, data=body)
    if rendered.replayed:
        response.status_code = 200
    return service.use_public(rendered)


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
