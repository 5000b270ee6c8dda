"""Commendations, appraisal entries and the debrief report built from every domain's figures."""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from app.audit.writer import AuditAction, record
from app.auth.models import User
from app.core.config import Settings
from app.core.errors import Conflict, NotFound
from app.core.permissions import Permission
from app.core.types import iso, utcnow
from app.debrief import charts
from app.debrief import timeline as debrief_timeline
from app.debrief.models import Appraisal, Commendation
from app.debrief.schemas import (
    AppraisalIn,
    AppraisalPublic,
    BriefingFigures,
    CommendationIn,
    CommendationPublic,
    CommendationTarget,
    DebriefFormat,
    DebriefOperation,
    DebriefOut,
    NotificationFigures,
    RumourFigures,
    TemplateFigures,
)
from app.escalations import service as escalation_service
from app.escalations.models import Escalation
from app.notifications import service as notification_service
from app.operations import service as operation_service
from app.operations.access import OperationAccess
from app.operations.workflow import OperationStatus
from app.templates import service as template_service
from app.templates.models import TemplateUse


def _ensure_may_add(access: OperationAccess, settings: Settings) -> None:
    """Commendations and appraisals: during the operation and for the debrief window after it closes."""
    operation = access.operation
    if operation.status == OperationStatus.PLANNED:
        raise Conflict("This operation has not started: commendations and appraisals open when it goes live.")
    if operation.status == OperationStatus.CLOSED:
        window_ends = (operation.closed_at or operation.updated_at) + timedelta(days=settings.debrief_window_days)
        if utcnow() > window_ends:
            raise Conflict(f"The debrief window of this operation closed on {iso(window_ends)}.")


def _ensure_target(session: Session, operation_id: uuid.UUID, data: CommendationIn) -> None:
    """404 unless the commended template use or report belongs to this operation."""
    if data.target_type == CommendationTarget.TEMPLATE_USE:
        use = session.get(TemplateUse, data.target_id)
        if use is None or use.operation_id != operation_id:
            raise NotFound("Template use not found in this operation.")
        return
    report = session.get(Escalation, data.target_id)
    if report is None or report.operation_id != operation_id:
        raise NotFound("Escalation not found in this operation.")


def commend(*, session: Session, settings: Settings, access: OperationAccess, data: CommendationIn
            ) -> CommendationPublic:
    access.ensure(Permission.COMMEND)
    _ensure_target(session, access.operation.id, data)
    _ensure_may_add(access, settings)
    commendation = Commendation(operation_id=access.operation.id, target_type=data.target_type,
                                target_id=data.target_id, note=data.note, author_id=access.actor.id)
    session.add(commendation)
    record(session, actor=access.actor, action=AuditAction.COMMENDATION_RECORDED, operation_id=access.operation.id,
           target_type="commendation", target_id=commendation.id,
           details={"target_type": data.target_type.value, "target_id": str(data.target_id), "note": data.note})
    session.flush()
    return list_commendations(session=session, access=access, only=commendation.id)[0]


def appraise(*, session: Session, settings: Settings, access: OperationAccess, data: AppraisalIn
             ) -> AppraisalPublic:
    """An unnamed entry keeps no author on the row; the audit event (actor) is the only record of who."""
    access.ensure(Permission.APPRAISE)
    _ensure_may_add(access, settings)
    appraisal = Appraisal(operation_id=access.operation.id, kind=data.kind, text=data.text,
                          anonymous=data.anonymous, author_id=None if data.anonymous else access.actor.id)
    session.add(appraisal)
    record(session, actor=access.actor, action=AuditAction.APPRAISAL_RECORDED, operation_id=access.operation.id,
           target_type="appraisal", target_id=appraisal.id,
           details={"kind": data.kind.value, "text": data.text, "anonymous": data.anonymous})
    session.flush()
    return AppraisalPublic(id=appraisal.id, operation_id=appraisal.operation_id, kind=appraisal.kind,
                           text=appraisal.text, anonymous=appraisal.anonymous,
                           author_name=None if data.anonymous else access.actor.display_name,
                           created_at=appraisal.created_at)


def _names(session: Session, user_ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {user_id for user_id in user_ids if user_id}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all())


def list_commendations(*, session: Session, access: OperationAccess, only: uuid.UUID | None = None
                       ) -> list[CommendationPublic]:
    access.ensure(Permission.DEBRIEF_VIEW if only is None else Permission.COMMEND)
    query = select(Commendation).where(Commendation.operation_id == access.operation.id)
    if only is not None:
        query = query.where(Commendation.id == only)
    rows = list(session.scalars(query.order_by(Commendation.created_at)))
    uses = {c.target_id for c in rows if c.target_type == CommendationTarget.TEMPLATE_USE}
    reports = {c.target_id for c in rows if c.target_type == CommendationTarget.ESCALATION}
    targets: dict[uuid.UUID, tuple[str, uuid.UUID]] = {}
    if uses:
        targets |= {row.id: (row.text, row.user_id)
                    for row in session.scalars(select(TemplateUse).where(TemplateUse.id.in_(uses)))}
    if reports:
        targets |= {row.id: (row.summary or row.source_url or "(no text)", row.reporter_id)
                    for row in session.scalars(select(Escalation).where(Escalation.id.in_(reports)))}
    names = _names(session, {c.author_id for c in rows} | {t[1] for t in targets.values()})
    return [CommendationPublic(
        id=c.id, operation_id=c.operation_id, target_type=c.target_type, target_id=c.target_id, note=c.note,
        author_name=names.get(c.author_id), created_at=c.created_at,
        target_summary=targets.get(c.target_id, (None, None))[0],
        officer_name=names.get(targets.get(c.target_id, (None, None))[1]),
    ) for c in rows]


def list_appraisals(*, session: Session, access: OperationAccess) -> list[AppraisalPublic]:
    access.ensure(Permission.DEBRIEF_VIEW)
    rows = list(session.scalars(select(Appraisal).where(Appraisal.operation_id == access.operation.id)
                                .order_by(Appraisal.created_at)))
    names = _names(session, {a.author_id for a in rows if not a.anonymous})
    return [AppraisalPublic(id=a.id, operation_id=a.operation_id, kind=a.kind, text=a.text, anonymous=a.anonymous,
                            author_name=None if a.anonymous else names.get(a.author_id), created_at=a.created_at)
            for a in rows]


def build(*, session: Session, access: OperationAccess) -> DebriefOut:
    access.ensure(Permission.DEBRIEF_VIEW)
    operation = access.operation
    groups = debrief_timeline._live_groups(session, operation.id)
    debrief = DebriefOut(
        operation=DebriefOperation.model_validate(operation, from_attributes=True),
        exercise=operation.exercise,
        generated_at=utcnow(),
        rumours=RumourFigures.model_validate(escalation_service.escalation_figures(session, operation_id=operation.id)),
        notifications=NotificationFigures.model_validate(
            notification_service.notification_figures(session, operation_id=operation.id)),
        templates=TemplateFigures.model_validate(template_service.usage_figures(session, operation_id=operation.id)),
        briefing=BriefingFigures.model_validate(operation_service.briefing_figures(session, operation=operation)),
        commendations=list_commendations(session=session, access=access),
        appraisals=list_appraisals(session=session, access=access),
        timeline=debrief_timeline.timeline(session, operation, groups),
        activity=debrief_timeline.activity(session, operation),
        ruling_time_histogram=debrief_timeline.ruling_histogram(groups),
    )
    debrief.charts = {"ruling_time": charts.ruling_histogram(debrief.ruling_time_histogram),
                      "activity": charts.activity(debrief.activity)}
    return debrief


@dataclass
class Export:
    content: bytes
    media_type: str
    filename: str


def export(*, session: Session, settings: Settings, access: OperationAccess, fmt: DebriefFormat) -> Export:
    """The debrief as a file (HTML, PDF or CSV). Every export is audited with the file's SHA-256."""
    from app.debrief import render

    debrief = build(session=session, access=access)
    if fmt == DebriefFormat.HTML:
        content, media_type = render.html(debrief).encode(), "text/html; charset=utf-8"
    elif fmt == DebriefFormat.CSV:
        content, media_type = render.csv_figures(debrief).encode(), "text/csv; charset=utf-8"
    else:
        content, media_type = render.pdf(render.html(debrief), settings), "application/pdf"
    record(session, actor=access.actor, action=AuditAction.DEBRIEF_EXPORTED, operation_id=access.operation.id,
           target_type="operation", target_id=access.operation.id,
           details={"format": fmt.value, "bytes": len(content), "sha256": hashlib.sha256(content).hexdigest(),
                    "exercise": debrief.exercise})
    return Export(content=content, media_type=media_type, filename=render.filename(debrief, fmt.value))
