"""Reply templates: the library, the four-eyes lifecycle, translations, rendering and usage figures.

Who sees what: officers only ever see approved, usable templates of operations they belong to plus the
global library; authors, approvers and auditors ("library staff") also see drafts, pending reviews and
history. Anything a caller may not see answers 404, before any 403.
"""

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlmodel import Session

from app.audit.writer import AuditAction, record
from app.auth.models import User
from app.core.db import HotInsert, HotQuery, attached, detached, new_row, split_row, together
from app.core.errors import AppError, Conflict, Forbidden, Invalid, InvalidTransition, NotFound
from app.core.events import Audience, publish
from app.core.permissions import Permission, ensure, has
from app.core.types import iso, utcnow
from app.operations import service as operation_service
from app.operations.access import OperationAccess, access_read, membership_of, operation_access
from app.operations.models import Operation
from app.operations.workflow import OperationStatus
from app.templates import text as template_text
from app.templates.models import Template, TemplateUse, TemplateVersion
from app.templates.schemas import (
    ImportIn,
    Library,
    LibraryTemplate,
    RenderIn,
    SlotIn,
    TemplateCreate,
    TemplatePublic,
    TemplateQuery,
    TranslationCreate,
    TranslationRef,
    VersionCreate,
    VersionPublic,
)
from app.templates.workflow import Outcome, TemplateAction, TemplateState, decide

STAFF_PERMISSIONS = (
    Permission.TEMPLATE_AUTHOR,
    Permission.TEMPLATE_APPROVE,
    Permission.TEMPLATE_RETIRE,
    Permission.AUDIT_READ,
)


@dataclass
class TemplateContext:
    """A template loaded for a caller who may see it, with their standing in its operation."""

    template: Template
    actor: User
    operation: Operation | None
    op_role: str | None

    @property
    def staff(self) -> bool:
        return is_library_staff(self.actor, self.op_role)


def is_library_staff(actor: User, op_role: str | None) -> bool:
    return any(has(actor.role, permission, op_role) for permission in STAFF_PERMISSIONS)


# ---------------------------------------------------------------------------------------------- loading


def _versions(session: Session, template_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[TemplateVersion]]:
    by_template: dict[uuid.UUID, list[TemplateVersion]] = {tid: [] for tid in template_ids}
    if template_ids:
        rows = session.scalars(
            select(TemplateVersion)
            .where(TemplateVersion.template_id.in_(template_ids))
            .order_by(TemplateVersion.number)
        )
        for version in rows:
            by_template[version.template_id].append(version)
    return by_template


def _newest(session: Session, template_id: uuid.UUID) -> TemplateVersion:
    return session.scalars(
        select(TemplateVersion)
        .where(TemplateVersion.template_id == template_id)
        .order_by(TemplateVersion.number.desc())
        .limit(1)
    ).one()


def unusable_reason(
    template: Template, live: TemplateVersion | None, operation: Operation | None, now: datetime | None = None
) -> str | None:
    """Why officers may not render this template now (None: they may). History is never touched."""
    if template.status == TemplateState.RETIRED:
        return "This template has been retired."
    if live is None:
        return "This template has not been approved yet."
    if live.expires_at is not None and live.expires_at <= (now or utcnow()):
        return "This template's approval has expired."
    if operation is not None and operation.status == OperationStatus.CLOSED:
        return "This template's operation is closed."
    return None


def _officer_may_see(template: Template, live: TemplateVersion | None) -> bool:
    """Officers see approved, in-date templates only (a closed operation's stay visible, unusable)."""
    reason = unusable_reason(template, live, None)
    return reason is None


def _operation_for(session: Session, actor: User, operation_id: uuid.UUID) -> tuple[Operation, str | None]:
    """The template's operation as this caller may know it: members and force-wide viewers, plus
    force-wide approvers (comms review every operation's replies). 404 for anyone else."""
    operation = session.get(Operation, operation_id)
    if operation is not None and has(actor.role, Permission.TEMPLATE_APPROVE):
        membership = membership_of(session, operation_id, actor.id)
        return operation, membership.role if membership else None
    access = operation_access(session, actor=actor, operation_id=operation_id)
    return access.operation, access.op_role


def load_context(session: Session, *, actor: User, template_id: uuid.UUID) -> TemplateContext:
    template = session.get(Template, template_id)
    if template is None:
        raise NotFound("Template not found.")
    operation, op_role = None, None
    if template.operation_id is not None:
        try:
            operation, op_role = _operation_for(session, actor, template.operation_id)
        except NotFound:
            raise NotFound("Template not found.") from None
    context = TemplateContext(template=template, actor=actor, operation=operation, op_role=op_role)
    if not context.staff:
        live = session.get(TemplateVersion, template.live_version_id) if template.live_version_id else None
        if not _officer_may_see(template, live):
            raise NotFound("Template not found.")
    return context


# ------------------------------------------------------------------------------------------ presenting


def _version_public(version: TemplateVersion) -> VersionPublic:
    return VersionPublic.model_validate(version, from_attributes=True)


def to_public(
    template: Template,
    versions: list[TemplateVersion],
    *,
    staff: bool,
    operation: Operation | None,
    detail: bool = False,
    uses: tuple[int, int] = (0, 0),
    translations: list[TranslationRef] | None = None,
) -> TemplatePublic:
    live = next((v for v in versions if v.id == template.live_version_id), None)
    newest = versions[-1]
    shown = live or newest
    pending = newest if staff and newest is not shown else None
    reason = unusable_reason(template, live, operation)
    return TemplatePublic(
        id=template.id,
        operation_id=template.operation_id,
        translation_of=template.translation_of,
        language=template.language,
        direction=template.direction,
        status=template.status,
        usable=reason is None,
        unusable_reason=reason,
        title=shown.title,
        body=shown.body,
        slots=shown.slots,
        category=shown.category,
        channel=shown.channel,
        tags=shown.tags,
        version_id=shown.id,
        version_number=shown.number,
        expires_at=live.expires_at if live else None,
        author_id=template.author_id,
        imported=template.imported,
        created_at=template.created_at,
        updated_at=template.updated_at,
        retired_at=template.retired_at,
        uses_by_me=uses[0],
        uses_by_my_group=uses[1],
        translations=translations or [],
        pending_version=_version_public(pending) if pending else None,
        versions=[_version_public(v) for v in versions] if detail and staff else None,
    )


def present(session: Session, context: TemplateContext, *, detail: bool = True) -> TemplatePublic:
    template = context.template
    root_id = template.translation_of or template.id
    family = list(
        session.scalars(
            select(Template).where(
                or_(Template.id == root_id, Template.translation_of == root_id), Template.id != template.id
            )
        )
    )
    family_versions = _versions(session, [t.id for t in family])
    translations = []
    for member in family:
        live = next((v for v in family_versions[member.id] if v.id == member.live_version_id), None)
        if context.staff or _officer_may_see(member, live):
            translations.append(
                TranslationRef(
                    id=member.id,
                    language=member.language,
                    direction=member.direction,
                    status=member.status,
                    usable=unusable_reason(member, live, context.operation) is None,
                )
            )
    versions = _versions(session, [template.id])[template.id]
    return to_public(
        template,
        versions,
        staff=context.staff,
        operation=context.operation,
        detail=detail,
        translations=translations,
    )


def get_template(*, session: Session, actor: User, template_id: uuid.UUID) -> TemplatePublic:
    return present(session, load_context(session, actor=actor, template_id=template_id))


# --------------------------------------------------------------------------------------------- listing


def _matches(public: TemplatePublic, query: TemplateQuery) -> bool:
    if query.category and public.category != query.category:
        return False
    if query.channel and public.channel != query.channel:
        return False
    if (
        query.language
        and public.language.lower() != query.language.lower()
        and public.language.split("-")[0] != query.language.lower()
    ):
        return False
    if query.status and public.status != query.status:
        return False
    if query.q:
        haystack = " ".join([public.title, public.body, *public.tags, public.category]).casefold()
        return all(word in haystack for word in query.q.casefold().split())
    return True


def _use_counts(
    session: Session, operation_id: uuid.UUID, actor: User, group: str | None
) -> tuple[Counter, Counter]:
    mine = Counter(
        dict(
            session.execute(
                select(TemplateUse.template_id, func.count())
                .where(TemplateUse.operation_id == operation_id, TemplateUse.user_id == actor.id)
                .group_by(TemplateUse.template_id)
            ).all()
        )
    )
    ours: Counter = Counter()
    if group:
        ours = Counter(
            dict(
                session.execute(
                    select(TemplateUse.template_id, func.count())
                    .where(TemplateUse.operation_id == operation_id, TemplateUse.group_name == group)
                    .group_by(TemplateUse.template_id)
                ).all()
            )
        )
    return mine, ours


def _library(
    session: Session,
    *,
    actor: User,
    scope: Any,
    operation: Operation | None,
    op_role: str | None,
    query: TemplateQuery,
    uses: tuple[Counter, Counter] | None = None,
) -> list[TemplatePublic]:
    staff = is_library_staff(actor, op_role)
    statement = select(Template).where(scope)
    if not staff:
        statement = statement.where(
            Template.status != TemplateState.RETIRED, Template.live_version_id.is_not(None)
        )
    elif query.status != TemplateState.RETIRED:
        statement = statement.where(Template.status != TemplateState.RETIRED)
    templates = list(session.scalars(statement))
    versions = _versions(session, [t.id for t in templates])
    mine, ours = uses or (Counter(), Counter())
    visible = [
        t
        for t in templates
        if staff or _officer_may_see(t, next((v for v in versions[t.id] if v.id == t.live_version_id), None))
    ]
    refs = {
        t.id: TranslationRef(
            id=t.id, language=t.language, direction=t.direction, status=t.status, usable=False
        )
        for t in visible
    }
    publics = []
    for template in visible:
        root = template.translation_of or template.id
        family = [refs[t.id] for t in visible if (t.translation_of or t.id) == root and t.id != template.id]
        public = to_public(
            template,
            versions[template.id],
            staff=staff,
            operation=operation,
            uses=(mine[template.id], ours[template.id]),
            translations=family,
        )
        refs[template.id].usable = public.usable
        publics.append(public)
    publics = [p for p in publics if _matches(p, query)]
    # The replies this officer and their serial reach for most come first.
    publics.sort(key=lambda p: (-p.uses_by_me, -p.uses_by_my_group, p.title.casefold(), p.language))
    return publics


def list_for_operation(
    *, session: Session, access: OperationAccess, query: TemplateQuery
) -> list[TemplatePublic]:
    access.ensure(Permission.OPERATION_VIEW)
    operation = access.operation
    group = access.membership.group_name if access.membership else None
    return _library(
        session,
        actor=access.actor,
        operation=operation,
        op_role=access.op_role,
        query=query,
        scope=or_(Template.operation_id.is_(None), Template.operation_id == operation.id),
        uses=_use_counts(session, operation.id, access.actor, group),
    )


def list_library(
    *, session: Session, actor: User, operation_id: uuid.UUID | None, query: TemplateQuery
) -> list[TemplatePublic]:
    """The force's standing library, or one operation's own templates (?status=pending: the review
    queue)."""
    if operation_id is None:
        return _library(
            session,
            actor=actor,
            operation=None,
            op_role=None,
            query=query,
            scope=Template.operation_id.is_(None),
        )
    operation, op_role = _operation_for(session, actor, operation_id)
    return _library(
        session,
        actor=actor,
        operation=operation,
        op_role=op_role,
        query=query,
        scope=Template.operation_id == operation.id,
    )


# -------------------------------------------------------------------------------------------- authoring


def _checked_slots(title: str, body: str, slots: list[SlotIn]) -> list[dict[str, Any]]:
    rules_json = [slot.rule_json() for slot in slots]
    problems = template_text.body_problems(body, [template_text.SlotRule.from_json(r) for r in rules_json])
    if problems:
        first = problems.items[0]
        raise Invalid(f"{title}: {first['msg']}", errors=problems.items)
    return rules_json


def _ensure_scope_open(operation: Operation | None) -> None:
    if operation is not None and operation.status == OperationStatus.CLOSED:
        raise Conflict("This operation is closed and read-only.")


def _author_scope(session: Session, actor: User, operation_id: uuid.UUID | None) -> Operation | None:
    """404 if the caller may not know the operation, 403 unless they author templates, 409 if it is closed."""
    operation = None
    if operation_id is not None:
        operation, _op_role = _operation_for(session, actor, operation_id)
    ensure(actor.role, Permission.TEMPLATE_AUTHOR)
    _ensure_scope_open(operation)
    return operation


def _new_template(
    session: Session,
    *,
    actor: User,
    operation: Operation | None,
    language: str,
    translation_of: uuid.UUID | None = None,
    imported: bool = False,
) -> Template:
    template = Template(
        operation_id=operation.id if operation else None,
        translation_of=translation_of,
        language=language,
        direction=template_text.direction(language),
        author_id=actor.id,
        imported=imported,
    )
    session.add(template)
    session.flush()  # the parent row first: no ORM relationships
    return template


def _first_version(
    session: Session,
    template: Template,
    actor: User,
    *,
    title: str,
    body: str,
    slots: list[dict[str, Any]],
    category: str,
    channel: str,
    tags: list[str],
) -> TemplateVersion:
    version = TemplateVersion(
        template_id=template.id,
        number=1,
        title=title,
        body=body,
        slots=slots,
        category=category,
        channel=channel,
        tags=tags,
        author_id=actor.id,
    )
    session.add(version)
    session.flush()
    return version


def _version_details(version: TemplateVersion) -> dict[str, Any]:
    return {
        "version": version.number,
        "version_id": str(version.id),
        "title": version.title,
        "body": version.body,
        "slots": version.slots,
        "category": version.category,
        "channel": version.channel,
        "tags": version.tags,
    }


def create_template(*, session: Session, actor: User, data: TemplateCreate) -> TemplateContext:
    operation = _author_scope(session, actor, data.operation_id)
    slots = _checked_slots(data.title, data.body, data.slots)
    template = _new_template(session, actor=actor, operation=operation, language=data.language)
    version = _first_version(
        session,
        template,
        actor,
        title=data.title,
        body=data.body,
        slots=slots,
        category=data.category,
        channel=data.channel,
        tags=data.tags,
    )
    record(
        session,
        actor=actor,
        action=AuditAction.TEMPLATE_CREATED,
        operation_id=template.operation_id,
        target_type="template",
        target_id=template.id,
        details={**_version_details(version), "language": template.language},
    )
    return load_context(session, actor=actor, template_id=template.id)


def add_translation(
    *, session: Session, context: TemplateContext, data: TranslationCreate
) -> TemplateContext:
    actor, original = context.actor, context.template
    if original.translation_of is not None:
        original = session.get(Template, original.translation_of)
    ensure(actor.role, Permission.TEMPLATE_AUTHOR)
    _ensure_scope_open(context.operation)
    if original.status == TemplateState.RETIRED:
        raise Conflict("A retired template cannot get new translations.")
    source = _newest(session, original.id)
    family = session.scalars(
        select(Template.language).where(
            or_(Template.id == original.id, Template.translation_of == original.id),
            Template.status != TemplateState.RETIRED,
        )
    ).all()
    if data.language in family:
        raise Conflict(f"This template already has a {data.language} version; revise that one instead.")
    slots_in = data.slots if data.slots is not None else [SlotIn(**s) for s in source.slots]
    if sorted(s.name for s in slots_in) != sorted(s["name"] for s in source.slots):
        raise Invalid(
            "A translation must have the same slots as the original: "
            + ", ".join(sorted(s["name"] for s in source.slots)),
            errors=[
                {
                    "loc": ["body", "slots"],
                    "msg": "slot names differ from the original",
                    "type": "template.translation_slots",
                }
            ],
        )
    slots = _checked_slots(data.title, data.body, slots_in)
    template = _new_template(
        session, actor=actor, operation=context.operation, language=data.language, translation_of=original.id
    )
    version = _first_version(
        session,
        template,
        actor,
        title=data.title,
        body=data.body,
        slots=slots,
        category=source.category,
        channel=source.channel,
        tags=data.tags if data.tags is not None else source.tags,
    )
    record(
        session,
        actor=actor,
        action=AuditAction.TEMPLATE_CREATED,
        operation_id=template.operation_id,
        target_type="template",
        target_id=template.id,
        details={
            **_version_details(version),
            "language": template.language,
            "translation_of": str(original.id),
        },
    )
    return load_context(session, actor=actor, template_id=template.id)


# -------------------------------------------------------------------------------------------- lifecycle


def _decide(context: TemplateContext, action: TemplateAction, version: TemplateVersion) -> TemplateState:
    """The workflow's answer for this caller, raised as 403/409; closed operations are read-only."""
    actor = context.actor
    is_author = actor.id in (context.template.author_id, version.author_id)
    decision = decide(
        context.template.status, action, role=actor.role, op_role=context.op_role, is_author=is_author
    )
    if decision.outcome == Outcome.FORBIDDEN:
        raise Forbidden(decision.reason)
    _ensure_scope_open(context.operation)
    if decision.outcome == Outcome.CONFLICT:
        raise InvalidTransition(decision.reason)
    return decision.to


def _touch(session: Session, template: Template, status: TemplateState) -> None:
    template.status = status
    template.updated_at = utcnow()
    session.add(template)


def submit(*, session: Session, context: TemplateContext) -> TemplateContext:
    template, version = context.template, _newest(session, context.template.id)
    status = _decide(context, TemplateAction.SUBMIT, version)
    version.status, version.submitted_at = TemplateState.PENDING.value, utcnow()
    session.add(version)
    _touch(session, template, status)
    record(
        session,
        actor=context.actor,
        action=AuditAction.TEMPLATE_SUBMITTED,
        operation_id=template.operation_id,
        target_type="template",
        target_id=template.id,
        details={"version": version.number, "version_id": str(version.id)},
    )
    session.flush()
    return context


def approve(*, session: Session, context: TemplateContext, expires_at: datetime | None) -> TemplateContext:
    template, version = context.template, _newest(session, context.template.id)
    status = _decide(context, TemplateAction.APPROVE, version)
    now = utcnow()
    if expires_at is not None and expires_at <= now:
        raise Invalid(
            "expires_at must be in the future.",
            errors=[{"loc": ["body", "expires_at"], "msg": "must be in the future", "type": "value_error"}],
        )
    previous = session.get(TemplateVersion, template.live_version_id) if template.live_version_id else None
    if previous is not None:
        previous.status = "superseded"
        session.add(previous)
    version.status, version.reviewed_by, version.reviewed_at = (
        TemplateState.APPROVED.value,
        context.actor.id,
        now,
    )
    version.expires_at, version.reject_reason = expires_at, None
    session.add(version)
    template.live_version_id = version.id
    _touch(session, template, status)
    record(
        session,
        actor=context.actor,
        action=AuditAction.TEMPLATE_APPROVED,
        operation_id=template.operation_id,
        target_type="template",
        target_id=template.id,
        details={
            "version": version.number,
            "version_id": str(version.id),
            "expires_at": iso(expires_at),
            "replaces_version": previous.number if previous else None,
        },
    )
    if template.operation_id is not None:
        publish(
            session,
            operation_id=template.operation_id,
            type="template.approved",
            audience=Audience.members(),
            data={
                "template_id": str(template.id),
                "version_id": str(version.id),
                "title": version.title,
                "language": template.language,
                "category": version.category,
                "channel": version.channel,
                "translation_of": str(template.translation_of) if template.translation_of else None,
            },
        )
    session.flush()
    return context


def reject(*, session: Session, context: TemplateContext, reason: str) -> TemplateContext:
    template, version = context.template, _newest(session, context.template.id)
    status = _decide(context, TemplateAction.REJECT, version)
    version.status, version.reviewed_by, version.reviewed_at = (
        TemplateState.DRAFT.value,
        context.actor.id,
        utcnow(),
    )
    version.reject_reason = reason
    session.add(version)
    _touch(session, template, status)
    record(
        session,
        actor=context.actor,
        action=AuditAction.TEMPLATE_REJECTED,
        operation_id=template.operation_id,
        target_type="template",
        target_id=template.id,
        details={"version": version.number, "version_id": str(version.id), "reason": reason},
    )
    session.flush()
    return context


def retire(*, session: Session, context: TemplateContext) -> TemplateContext:
    """Retiring an original retires its translations too: a withdrawn message goes in every language."""
    template = context.template
    status = _decide(context, TemplateAction.RETIRE, _newest(session, template.id))
    _retire_one(session, context.actor, template, status, because=None)
    if template.translation_of is None:
        variants = session.scalars(
            select(Template).where(
                Template.translation_of == template.id, Template.status != TemplateState.RETIRED
            )
        )
        for variant in variants:
            _retire_one(session, context.actor, variant, status, because=template.id)
    session.flush()
    return context


def _retire_one(
    session: Session, actor: User, template: Template, status: TemplateState, because: uuid.UUID | None
) -> None:
    previous = template.status
    template.retired_at = utcnow()
    _touch(session, template, status)
    record(
        session,
        actor=actor,
        action=AuditAction.TEMPLATE_RETIRED,
        operation_id=template.operation_id,
        target_type="template",
        target_id=template.id,
        details={"from": previous, "with_original": str(because) if because else None},
    )


def revise(*, session: Session, context: TemplateContext, data: VersionCreate) -> TemplateContext:
    """A new draft version; an approved version stays live until this one is approved."""
    template, newest = context.template, _newest(session, context.template.id)
    status = _decide(context, TemplateAction.REVISE, newest)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise Invalid("Give at least one field to change.")
    title, body = data.title or newest.title, data.body or newest.body
    slots_in = data.slots if data.slots is not None else [SlotIn(**s) for s in newest.slots]
    slots = _checked_slots(title, body, slots_in)
    if newest.status == TemplateState.DRAFT:
        newest.status = "superseded"  # an unreviewed draft replaced by a newer one
        session.add(newest)
    version = TemplateVersion(
        template_id=template.id,
        number=newest.number + 1,
        title=title,
        body=body,
        slots=slots,
        category=data.category or newest.category,
        channel=data.channel or newest.channel,
        tags=data.tags if data.tags is not None else newest.tags,
        author_id=context.actor.id,
    )
    session.add(version)
    _touch(session, template, status)
    record(
        session,
        actor=context.actor,
        action=AuditAction.TEMPLATE_VERSION_CREATED,
        operation_id=template.operation_id,
        target_type="template",
        target_id=template.id,
        details={**_version_details(version), "changed": sorted(changes)},
    )
    session.flush()
    return context


# ---------------------------------------------------------------------------------------------- rendering


def ensure_may_render(session: Session, *, access: OperationAccess) -> None:
    """The one place that decides whether this caller may use templates in this operation now."""
    access.ensure(Permission.TEMPLATE_USE)


def _replay(session: Session, actor: User, client_id: str | None) -> TemplateUse | None:
    if client_id is None:
        return None
    return session.scalar(
        select(TemplateUse).where(TemplateUse.user_id == actor.id, TemplateUse.client_id == client_id)
    )


def _same_request(use: TemplateUse, template_id: uuid.UUID, operation_id: uuid.UUID) -> TemplateUse:
    """A client_id names one use: the same id for another template or operation is a client bug."""
    if use.template_id != template_id or use.operation_id != operation_id:
        raise Conflict("This client_id was already used for another template or operation.")
    return use


# The render hot path's statements, built once (building one costs more than running it on SQLite): the
# template with its live version in one round trip, and the use's insert, which a repeated client_id skips.
_TEMPLATE_AND_LIVE_VERSION = HotQuery(select(*Template.__table__.c, *TemplateVersion.__table__.c).select_from(
    Template.__table__.outerjoin(TemplateVersion.__table__,
                                 TemplateVersion.__table__.c.id == Template.__table__.c.live_version_id)
).where(Template.__table__.c.id == bindparam("template_id")))
_INSERT_USE = HotInsert(TemplateUse.__table__, unique=["user_id", "client_id"])


@dataclass
class Rendered:
    """A recorded use with what its answer needs (kept here: the session only holds objects weakly)."""

    use: TemplateUse
    replayed: bool
    template: Template
    operation: Operation


def render(*, session: Session, actor: User, template_id: uuid.UUID, data: RenderIn) -> Rendered:
    """Fill the approved body with validated values and record the use (or answer the recorded one)."""
    # what every check needs, read in one round trip on PostgreSQL; the checks then run in their usual order
    access_rows, template_rows, document_rows = together(
        session, access_read(actor, data.operation_id), (_TEMPLATE_AND_LIVE_VERSION, {"template_id": template_id}),
        operation_service.documents_read(data.operation_id))
    access = operation_access(session, actor=actor, operation_id=data.operation_id, rows=access_rows)
    template_values, live_values = split_row(template_rows[0] if template_rows else None, Template, TemplateVersion)
    template = attached(session, Template, template_values)
    live = attached(session, TemplateVersion, live_values)
    if template is None or template.operation_id not in (None, access.operation.id):
        raise NotFound("Template not found.")
    try:
        use = _checked_use(session, access, template, live, data, document_rows)
    except AppError:
        # A retried offline render is answered with what was recorded even if the template has since been
        # retired, has expired or was revised: the officer's phone must learn that its queued use went out.
        # (On the normal path the insert itself detects the repeat, saving a query.)
        if (earlier := _replay(session, actor, data.client_id)) is not None:
            return Rendered(_same_request(earlier, template.id, access.operation.id), True, template,
                            access.operation)
        raise
    use, replayed = _insert_use(session, actor, use, data)
    return Rendered(use, replayed, template, access.operation)


def _checked_use(session: Session, access: OperationAccess, template: Template, live: TemplateVersion | None,
                 data: RenderIn, document_rows: list[tuple]) -> TemplateUse:
    """The use this render would record, once every rule allows it: 404, 403, 409, 422 otherwise."""
    if not is_library_staff(access.actor, access.op_role) and not _officer_may_see(template, live):
        raise NotFound("Template not found.")
    ensure_may_render(session, access=access)
    reason = unusable_reason(template, live, access.operation)
    if reason is not None:
        raise Conflict(reason)
    channel = data.channel or live.channel
    operation_service.ensure_briefed(session, access, channel=channel, category=live.category,
                                     document_rows=document_rows)
    rules = [template_text.SlotRule.from_json(rule) for rule in live.slots]
    values, problems = template_text.validate_values(rules, data.slots)
    if problems:
        first = problems.items[0]
        raise Invalid(f"slot {first['loc'][-1]}: {first['msg']}", errors=problems.items)
    return detached(TemplateUse, new_row(  # the values only: SQLModel's constructor cost ~100 µs here
        TemplateUse, operation_id=access.operation.id, user_id=access.actor.id, template_id=template.id,
        version_id=live.id, channel=channel, text=template_text.render(live.body, values), slot_values=values,
        in_reply_to=data.in_reply_to, client_id=data.client_id,
        group_name=access.membership.group_name if access.membership else None,
    ))


def _insert_use(session: Session, actor: User, use: TemplateUse, data: RenderIn) -> tuple[TemplateUse, bool]:
    # a concurrent retry with the same client_id loses the race quietly and is answered with the winner's use
    if _INSERT_USE(session, use.__dict__) is None:
        earlier = _replay(session, actor, data.client_id)
        return _same_request(earlier, use.template_id, use.operation_id), True
    record(
        session,
        actor=actor,
        action=AuditAction.TEMPLATE_USED,
        operation_id=use.operation_id,
        target_type="template_use",
        target_id=use.id,
        details={
            "template_id": str(use.template_id),
            "version_id": str(use.version_id),
            "channel": use.channel,
            "slots": use.slot_values,
            "text": use.text,
            "in_reply_to": use.in_reply_to,
            "client_id": use.client_id,
            "group": use.group_name,
        },
    )
    return use, False


def use_public(rendered: Rendered) -> dict[str, Any]:
    use = rendered.use
    return {
        "use_id": use.id,
        "text": use.text,
        "template_id": use.template_id,
        "version_id": use.version_id,
        "operation_id": use.operation_id,
        "channel": use.channel,
        "language": rendered.template.language,
        "direction": rendered.template.direction,
        "slots": use.slot_values,
        "created_at": use.created_at,
        "replayed": rendered.replayed,
        "exercise": rendered.operation.exercise,
    }


# ------------------------------------------------------------------------------- for other domains


def get_template_for_counter_message(
    session: Session, *, template_id: uuid.UUID, operation_id: uuid.UUID
) -> Template:
    """The template Bronze attaches to a resolved rumour: it must exist in that operation's reach (global or
    the operation's own; else 404) and be usable now (approved, in date, not retired; else 409)."""
    template = session.get(Template, template_id)
    if template is None or template.operation_id not in (None, operation_id):
        raise NotFound("Template not found.")
    live = session.get(TemplateVersion, template.live_version_id) if template.live_version_id else None
    reason = unusable_reason(template, live, session.get(Operation, operation_id))
    if reason is not None:
        raise Conflict(f"This template cannot be the counter-message: {reason[0].lower()}{reason[1:]}")
    return template


def usage_figures(session: Session, *, operation_id: uuid.UUID) -> dict[str, Any]:
    """Template uses in an operation for the debrief: totals by template, channel, category and serial."""
    rows = session.execute(
        select(
            TemplateUse.template_id,
            TemplateUse.channel,
            TemplateUse.group_name,
            TemplateVersion.category,
            func.count(),
        )
        .join(TemplateVersion, TemplateVersion.id == TemplateUse.version_id)
        .where(TemplateUse.operation_id == operation_id)
        .group_by(
            TemplateUse.template_id, TemplateUse.channel, TemplateUse.group_name, TemplateVersion.category
        )
    ).all()
    by_template: Counter = Counter()
    template_channels: dict[uuid.UUID, Counter] = {}
    by_channel, by_category, by_group = Counter(), Counter(), Counter()
    for template_id, channel, group, category, count in rows:
        by_template[template_id] += count
        template_channels.setdefault(template_id, Counter())[channel] += count
        by_channel[channel] += count
        by_category[category] += count
        by_group[group or "(no group)"] += count
    titles = _titles(session, list(by_template))
    return {
        "uses": sum(by_template.values()),
        "by_template": [
            {
                "template_id": tid,
                "title": titles.get(tid, ""),
                "uses": n,
                "by_channel": dict(template_channels[tid]),
            }
            for tid, n in sorted(by_template.items(), key=lambda item: (-item[1], titles.get(item[0])))
        ],
        "by_channel": dict(by_channel),
        "by_category": dict(by_category),
        "by_group": dict(by_group),
    }


def _titles(session: Session, template_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each template's title as approved (the live version), else its newest version's."""
    titles = {}
    for template_id, versions in _versions(session, template_ids).items():
        template = session.get(Template, template_id)
        live = next((v for v in versions if v.id == template.live_version_id), None)
        titles[template_id] = (live or versions[-1]).title
    return titles


def usage(*, session: Session, access: OperationAccess) -> dict[str, Any]:
    access.ensure(Permission.DEBRIEF_VIEW)
    return {"operation_id": access.operation.id, **usage_figures(session, operation_id=access.operation.id)}


# ------------------------------------------------------------------------------------- import / export


def export_library(*, session: Session, actor: User, operation_id: uuid.UUID | None) -> Library:
    """The approved words of every usable template in scope (global, or one operation's own)."""
    operation = None
    if operation_id is not None:
        operation, _op_role = _operation_for(session, actor, operation_id)
    ensure(actor.role, Permission.TEMPLATE_LIBRARY_EXPORT)
    scope = Template.operation_id == operation_id if operation_id else Template.operation_id.is_(None)
    templates = list(
        session.scalars(
            select(Template)
            .where(scope, Template.status != TemplateState.RETIRED, Template.live_version_id.is_not(None))
            .order_by(Template.created_at)
        )
    )
    versions = _versions(session, [t.id for t in templates])
    items = []
    for template in templates:
        live = next(v for v in versions[template.id] if v.id == template.live_version_id)
        if unusable_reason(template, live, None) is not None:
            continue
        items.append(
            LibraryTemplate(
                key=str(template.id),
                translation_of=str(template.translation_of) if template.translation_of else None,
                title=live.title,
                body=live.body,
                slots=[SlotIn(**s) for s in live.slots],
                category=live.category,
                channel=live.channel,
                language=template.language,
                tags=live.tags,
            )
        )
    keys = {item.key for item in items}
    for item in items:  # a translation whose original is not exported travels on its own
        if item.translation_of not in keys:
            item.translation_of = None
    record(
        session,
        actor=actor,
        action=AuditAction.TEMPLATE_EXPORTED,
        operation_id=operation_id,
        target_type="template_library",
        target_id=operation_id,
        details={
            "count": len(items),
            "scope": "operation" if operation else "global",
            "template_ids": sorted(keys),
        },
    )
    return Library(
        exported_at=utcnow(), source=operation.name if operation else "global library", templates=items
    )


def import_library(*, session: Session, actor: User, data: ImportIn) -> list[TemplateContext]:
    """Every template arrives as a draft authored by the importer, so someone else must approve it."""
    operation = _author_scope(session, actor, data.operation_id)
    _check_library(data)
    created: dict[str, Template] = {}
    # Originals first, so translations can point at them.
    for item in sorted(data.templates, key=lambda t: t.translation_of is not None):
        slots = _checked_slots(item.title, item.body, item.slots)
        parent = created[item.translation_of].id if item.translation_of else None
        template = _new_template(
            session,
            actor=actor,
            operation=operation,
            language=item.language,
            translation_of=parent,
            imported=True,
        )
        version = _first_version(
            session,
            template,
            actor,
            title=item.title,
            body=item.body,
            slots=slots,
            category=item.category,
            channel=item.channel,
            tags=item.tags,
        )
        record(
            session,
            actor=actor,
            action=AuditAction.TEMPLATE_IMPORTED,
            operation_id=template.operation_id,
            target_type="template",
            target_id=template.id,
            details={
                **_version_details(version),
                "language": template.language,
                "source": data.source,
                "source_key": item.key,
                "translation_of": str(parent) if parent else None,
            },
        )
        created[item.key] = template
    return [load_context(session, actor=actor, template_id=t.id) for t in created.values()]


def _check_library(data: ImportIn) -> None:
    """The whole file is checked before anything is written: a bad entry imports nothing."""
    keys = [item.key for item in data.templates]
    problems = []
    if len(keys) != len(set(keys)):
        problems.append(
            {"loc": ["body", "templates"], "msg": "keys must be unique", "type": "library.duplicate_key"}
        )
    by_key = {item.key: item for item in data.templates}
    for index, item in enumerate(data.templates):
        parent = by_key.get(item.translation_of) if item.translation_of else None
        if item.translation_of and (parent is None or parent.translation_of is not None):
            problems.append(
                {
                    "loc": ["body", "templates", str(index), "translation_of"],
                    "msg": "must be the key of an original template in this file",
                    "type": "library.link",
                }
            )
        rules = [template_text.SlotRule.from_json(s.rule_json()) for s in item.slots]
        for problem in template_text.body_problems(item.body, rules).items:
            problems.append({**problem, "loc": ["body", "templates", str(index), *problem["loc"][1:]]})
    if problems:
        raise Invalid(
            f"The library file has {len(problems)} problem(s); nothing was imported. "
            f"First: {'.'.join(problems[0]['loc'][1:])}: {problems[0]['msg']}",
            errors=problems,
        )
