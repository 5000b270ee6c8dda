"""Operations: lifecycle, members, versioned strategy and briefing, acknowledgements, decision log."""

import uuid

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.audit.writer import AuditAction, record
from app.auth.models import User
from app.core.db import HotQuery, attached
from app.core.errors import Conflict, Forbidden, Invalid, InvalidTransition, NotFound
from app.core.permissions import OpRole, Permission, ensure, has
from app.core.types import utcnow
from app.operations import engagement as rules
from app.operations.access import OperationAccess, membership_of, operation_access
from app.operations.models import BriefingAck, Decision, Membership, Operation, OperationDocument
from app.operations.schemas import (
    BriefingAckOut,
    BriefingReminderOut,
    BriefingStatusOut,
    DecisionIn,
    DecisionPublic,
    EngagementPublic,
    EngagementRulePublic,
    MemberPublic,
    OperationCreate,
    OperationPublic,
    OperationUpdate,
)
from app.operations.workflow import OperationStatus, can_move


class BriefingRequired(Conflict):
    """The caller has not acknowledged the current strategy and briefing of a live operation."""

    title, type_slug = "Briefing not acknowledged", "briefing-not-acknowledged"


class RationaleRequired(Invalid):
    title, type_slug = "Rationale required", "rationale-required"


def current_document(session: Session, operation_id: uuid.UUID, kind: str) -> OperationDocument | None:
    return session.scalar(
        select(OperationDocument)
        .where(OperationDocument.operation_id == operation_id, OperationDocument.kind == kind)
        .order_by(OperationDocument.version.desc()).limit(1)
    )


def current_documents(
    session: Session, operation_id: uuid.UUID, rows: list[tuple] | None = None
) -> tuple[OperationDocument | None, OperationDocument | None]:
    """The current (strategy, briefing), in one round trip: a render or a report pays for it every time.
    `rows`: what `documents_read` gave, when the caller has read it already."""
    if rows is None:
        query, params = documents_read(operation_id)
        rows = query.all(session, params)
    documents = {values["kind"]: attached(session, OperationDocument, values)
                 for values in _CURRENT_DOCUMENTS.as_dicts(rows)}
    return documents.get("strategy"), documents.get("briefing")


def documents_read(operation_id: uuid.UUID) -> tuple[HotQuery, dict]:
    """The statement `current_documents` runs, for a caller that reads it together with others (`together`)."""
    return _CURRENT_DOCUMENTS, {"operation_id": operation_id}


def _current_documents_statement():
    earlier = aliased(OperationDocument)
    latest = (select(func.max(earlier.version))
              .where(earlier.operation_id == bindparam("operation_id"), earlier.kind == OperationDocument.kind)
              .correlate(OperationDocument).scalar_subquery())
    return HotQuery(select(*OperationDocument.__table__.c).where(
        OperationDocument.operation_id == bindparam("operation_id"), OperationDocument.version == latest))


_CURRENT_DOCUMENTS = _current_documents_statement()  # built once: building it costs more than running it


def _versions(strategy: OperationDocument | None, briefing: OperationDocument | None) -> tuple[int, int]:
    return (strategy.version if strategy else 0, briefing.version if briefing else 0)


def current_versions(session: Session, operation_id: uuid.UUID) -> tuple[int, int]:
    return _versions(*current_documents(session, operation_id))


def has_acknowledged(
    session: Session, operation_id: uuid.UUID, user_id: uuid.UUID, versions: tuple[int, int] | None = None
) -> bool:
    """`versions`: the current (strategy, briefing) versions when the caller has already loaded them."""
    strategy_version, briefing_version = versions or current_versions(session, operation_id)
    return _ACKNOWLEDGED.first(session, {"operation_id": operation_id, "user_id": user_id,
                                         "strategy_version": strategy_version,
                                         "briefing_version": briefing_version}) is not None


_ACKNOWLEDGED = HotQuery(select(BriefingAck.id).where(
    BriefingAck.operation_id == bindparam("operation_id"), BriefingAck.user_id == bindparam("user_id"),
    BriefingAck.strategy_version == bindparam("strategy_version"),
    BriefingAck.briefing_version == bindparam("briefing_version"),
).limit(1))


def to_public(session: Session, access: OperationAccess) -> OperationPublic:
    operation = access.operation
    strategy, briefing = current_documents(session, operation.id)
    return OperationPublic(
        id=operation.id, name=operation.name, starts_at=operation.starts_at, ends_at=operation.ends_at,
        status=operation.status, exercise=operation.exercise,
        strategy=strategy.text if strategy else None, strategy_version=strategy.version if strategy else 0,
        briefing=briefing.text if briefing else None, briefing_version=briefing.version if briefing else 0,
        created_at=operation.created_at, went_live_at=operation.went_live_at, closed_at=operation.closed_at,
        my_role=access.op_role, my_group=access.membership.group_name if access.membership else None,
        briefing_acknowledged=bool(access.membership)
        and has_acknowledged(session, operation.id, access.actor.id, _versions(strategy, briefing)),
        engagement=engagement_view(session, strategy, briefing),
    )


def engagement_view(
    session: Session, strategy: OperationDocument | None, briefing: OperationDocument | None
) -> EngagementPublic:
    """Which engagement rules apply, rule by rule, with Bronze's recorded reason for each narrowing."""
    ceiling = rules.resolve_strategy(strategy.engagement if strategy else None)
    narrowing = rules.briefing_overrides(briefing.engagement if briefing else None)
    applies = rules.effective_rules(ceiling, narrowing)
    restricted = rules.stricter_rules(ceiling, narrowing)
    decision_id = briefing.rationale_decision_id if briefing else None
    decision = session.get(Decision, decision_id) if decision_id else None
    explained = set(briefing.restrictions) if decision is not None else set()
    return EngagementPublic(
        rules=[EngagementRulePublic(
            rule=name, label=label, strategy=ceiling[name], briefing=narrowing.get(name),
            applies=applies[name], restricted_by_briefing=name in restricted,
            rationale=decision.rationale if decision is not None and name in restricted and name in explained
            else None,
        ) for name, label in rules.RULE_LABELS.items()],
        rationale_decision_id=decision.id if decision is not None else None,
        unexplained_restrictions=[name for name in restricted if name not in explained],
    )


def ensure_briefed(
    session: Session, access: OperationAccess, *, channel: str | None = None, category: str | None = None,
    document_rows: list[tuple] | None = None,
) -> None:
    """Before an officer uses a template: in a live operation they must have acknowledged the current
    strategy and briefing, and the channel and category must be allowed by the engagement rules.
    `document_rows`: what `documents_read` gave, when the caller has read it already."""
    operation = access.operation
    # the render hot path: load the current documents once for both checks
    strategy, briefing = current_documents(session, operation.id, document_rows)
    versions = _versions(strategy, briefing)
    if (operation.status == OperationStatus.LIVE and versions != (0, 0)
            and not has_acknowledged(session, operation.id, access.actor.id, versions)):
        raise BriefingRequired(
            "Read and acknowledge the current strategy and briefing before using templates.")
    if channel is None and category is None:
        return
    applies = rules.effective_rules(rules.resolve_strategy(strategy.engagement if strategy else None),
                                    rules.briefing_overrides(briefing.engagement if briefing else None))
    reason = rules.refusal(applies, channel=channel, category=category)
    if reason:
        raise Forbidden(reason)


def publish_document(
    session: Session, *, access: OperationAccess, kind: str, text: str,
    engagement: rules.EngagementRules | None = None, rationale: str | None = None,
) -> OperationDocument:
    """A new version of the strategy or briefing; earlier versions stay as they were. Engagement rules
    left out carry over from the previous version. A briefing stricter than the strategy needs a
    rationale, recorded in the decision log in the same transaction, before it is published."""
    access.ensure(Permission.STRATEGY_EDIT if kind == "strategy" else Permission.BRIEFING_EDIT)
    access.ensure_open()
    previous = current_document(session, access.operation.id, kind)
    version = (previous.version if previous else 0) + 1
    restrictions: list[str] = []
    decision_id: uuid.UUID | None = None
    if kind == "strategy":
        carried = previous.engagement if previous else None
        stored = rules.resolve_strategy(engagement.model_dump(exclude_none=True) if engagement else carried)
    else:
        stored, restrictions, decision_id = _briefing_rules(session, access, previous, version, engagement,
                                                            rationale)
    document = OperationDocument(
        operation_id=access.operation.id, kind=kind, version=version, text=text, engagement=stored,
        restrictions=restrictions, rationale_decision_id=decision_id, author_id=access.actor.id,
    )
    session.add(document)
    action = AuditAction.STRATEGY_PUBLISHED if kind == "strategy" else AuditAction.BRIEFING_PUBLISHED
    details = {"version": version, "text": text, "engagement": stored}
    if kind == "briefing":
        details |= {"restrictions": restrictions,
                    "rationale_decision_id": str(decision_id) if decision_id else None}
    record(session, actor=access.actor, action=action, operation_id=access.operation.id,
           target_type="operation_document", target_id=document.id, details=details)
    session.flush()
    return document


def _briefing_rules(
    session: Session, access: OperationAccess, previous: OperationDocument | None, version: int,
    engagement: rules.EngagementRules | None, rationale: str | None,
) -> tuple[dict, list[str], uuid.UUID | None]:
    """The briefing's own rules, the strategy rules it narrows, and the decision that explains it."""
    strategy_doc = current_document(session, access.operation.id, "strategy")
    ceiling = rules.resolve_strategy(strategy_doc.engagement if strategy_doc else None)
    mine = (engagement.model_dump(exclude_none=True) if engagement is not None
            else rules.briefing_overrides(previous.engagement if previous else None))
    looser = rules.looser_rules(ceiling, mine)
    if looser:
        raise Invalid(f"Gold's strategy does not allow this, so the briefing cannot: {rules.labels(looser)}.")
    restrictions = rules.stricter_rules(ceiling, mine)
    if rationale:
        what = (f"is stricter than Gold's strategy on: {rules.labels(restrictions)}" if restrictions
                else "narrows nothing in Gold's strategy")
        decision = record_decision(session=session, access=access, data=DecisionIn(
            decision=f"Briefing version {version} {what}.", rationale=rationale))
        return mine, restrictions, decision.id
    if not restrictions:
        return mine, [], None
    # A new text under the same, already explained, rules keeps the earlier decision.
    if (previous is not None and previous.rationale_decision_id is not None and previous.engagement == mine
            and set(restrictions) <= set(previous.restrictions)):
        return mine, restrictions, previous.rationale_decision_id
    raise RationaleRequired(
        f"This briefing is stricter than Gold's strategy on: {rules.labels(restrictions)}. "
        "Record the rationale in the decision log: send it as 'rationale' with the briefing.",
        errors=[{"loc": ["body", "rationale"], "msg": f"required: the briefing narrows {name}",
                 "type": "missing"} for name in restrictions],
    )


def create_operation(*, session: Session, actor: User, data: OperationCreate) -> OperationAccess:
    ensure(actor.role, Permission.OPERATION_CREATE)
    operation = Operation(name=data.name, starts_at=data.starts_at, ends_at=data.ends_at,
                          exercise=data.exercise, created_by=actor.id)
    session.add(operation)
    session.flush()  # no ORM relationships: the parent row goes first explicitly
    membership = None
    if actor.role == "gold":
        membership = Membership(operation_id=operation.id, user_id=actor.id, role=OpRole.GOLD)
        session.add(membership)
    record(session, actor=actor, action=AuditAction.OPERATION_CREATED, operation_id=operation.id,
           target_type="operation", target_id=operation.id,
           details={"name": data.name, "starts_at": data.starts_at.isoformat(),
                    "ends_at": data.ends_at.isoformat(),
                    "exercise": data.exercise})
    session.flush()
    access = OperationAccess(operation=operation, membership=membership, actor=actor)
    if data.strategy:
        _publish_as_creator(session, access, "strategy", data.strategy, data.strategy_engagement)
    if data.briefing:
        _publish_as_creator(session, access, "briefing", data.briefing)
    return access


def _publish_as_creator(
    session: Session, access: OperationAccess, kind: str, text: str,
    engagement: rules.EngagementRules | None = None,
) -> None:
    """The creator (gold or admin) may set the first strategy and briefing with the operation."""
    creator = OperationAccess(operation=access.operation, actor=access.actor,
                              membership=access.membership or Membership(role=OpRole.GOLD))
    publish_document(session, access=creator, kind=kind, text=text, engagement=engagement)


def list_operations(*, session: Session, actor: User, status: str | None) -> list[OperationAccess]:
    query = select(Operation, Membership).outerjoin(
        Membership, (Membership.operation_id == Operation.id) & (Membership.user_id == actor.id)
    )
    if not has(actor.role, Permission.OPERATION_SEE_ALL):
        query = query.where(Membership.id.is_not(None))
    if status:
        query = query.where(Operation.status == status)
    rows = session.execute(query.order_by(Operation.starts_at.desc())).all()
    return [OperationAccess(operation=op, membership=m, actor=actor) for op, m in rows]


def update_operation(*, session: Session, access: OperationAccess, data: OperationUpdate) -> OperationAccess:
    operation = access.operation
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    plain = {k: v for k, v in changes.items() if k not in ("strategy", "briefing", "status")}
    if plain or "status" in changes:
        access.ensure(Permission.OPERATION_UPDATE)
        access.ensure_open()
    if "strategy" in changes:
        publish_document(session, access=access, kind="strategy", text=changes["strategy"])
    if "briefing" in changes:
        publish_document(session, access=access, kind="briefing", text=changes["briefing"])
    details = {}
    for name, value in plain.items():
        if getattr(operation, name) != value:
            details[name] = {"from": _plain(getattr(operation, name)), "to": _plain(value)}
            setattr(operation, name, value)
    if operation.ends_at <= operation.starts_at:
        raise Conflict("ends_at must be after starts_at.")
    if details:
        record(session, actor=access.actor, action=AuditAction.OPERATION_UPDATED, operation_id=operation.id,
               target_type="operation", target_id=operation.id, details=details)
    if "status" in changes and changes["status"] != operation.status:
        _move(session, access, changes["status"])
    operation.updated_at = utcnow()
    session.add(operation)
    session.flush()
    return access


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _move(session: Session, access: OperationAccess, target: str) -> None:
    operation = access.operation
    if not can_move(operation.status, target):
        raise InvalidTransition(f"An operation cannot go from {operation.status} to {target}.")
    previous, operation.status = operation.status, target
    if target == OperationStatus.LIVE:
        operation.went_live_at = utcnow()
    if target == OperationStatus.CLOSED:
        operation.closed_at = utcnow()
    record(session, actor=access.actor, action=AuditAction.OPERATION_STATUS_CHANGED,
           operation_id=operation.id,
           target_type="operation", target_id=operation.id, details={"from": previous, "to": target})


def set_member(
    *, session: Session, access: OperationAccess, user_id: uuid.UUID, role: str, group: str | None
) -> Membership:
    access.ensure(Permission.MEMBER_MANAGE)
    access.ensure_open()
    if role == OpRole.GOLD and access.op_role != OpRole.GOLD and access.actor.role != "admin":
        raise Forbidden("Only Gold or an admin may make someone Gold of an operation.")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    if not user.active:
        raise Conflict("This account is disabled.")
    membership = membership_of(session, access.operation.id, user_id)
    before = None if membership is None else {"role": membership.role, "group": membership.group_name}
    if membership is None:
        membership = Membership(operation_id=access.operation.id, user_id=user_id, role=role,
                                group_name=group)
    membership.role, membership.group_name = role, group
    session.add(membership)
    record(session, actor=access.actor, action=AuditAction.MEMBER_SET, operation_id=access.operation.id,
           target_type="user", target_id=user_id, details={"before": before, "role": role, "group": group})
    session.flush()
    return membership


def remove_member(*, session: Session, access: OperationAccess, user_id: uuid.UUID) -> None:
    access.ensure(Permission.MEMBER_MANAGE)
    access.ensure_open()
    membership = membership_of(session, access.operation.id, user_id)
    if membership is None:
        raise NotFound("That user is not a member of this operation.")
    if membership.role == OpRole.GOLD and access.op_role != OpRole.GOLD and access.actor.role != "admin":
        raise Forbidden("Only Gold or an admin may remove Gold from an operation.")
    session.delete(membership)
    record(session, actor=access.actor, action=AuditAction.MEMBER_REMOVED, operation_id=access.operation.id,
           target_type="user", target_id=user_id,
           details={"role": membership.role, "group": membership.group_name})
    session.flush()


def _member_rows(session: Session, operation_id: uuid.UUID) -> list[MemberPublic]:
    strategy_version, briefing_version = current_versions(session, operation_id)
    acked = (
        select(BriefingAck.user_id, func.max(BriefingAck.at).label("at"))
        .where(BriefingAck.operation_id == operation_id, BriefingAck.strategy_version == strategy_version,
               BriefingAck.briefing_version == briefing_version)
        .group_by(BriefingAck.user_id).subquery()
    )
    rows = session.execute(
        select(Membership, User, acked.c.at).join(User, User.id == Membership.user_id)
        .outerjoin(acked, acked.c.user_id == Membership.user_id)
        .where(Membership.operation_id == operation_id).order_by(User.service_number)
    ).all()
    return [
        MemberPublic(user_id=user.id, service_number=user.service_number, display_name=user.display_name,
                     role=m.role, group=m.group_name, briefing_acknowledged=at is not None,
                     acknowledged_at=at)
        for m, user, at in rows
    ]


def list_members(*, session: Session, access: OperationAccess) -> list[MemberPublic]:
    access.ensure(Permission.MEMBER_VIEW)
    return _member_rows(session, access.operation.id)


def acknowledge_briefing(*, session: Session, access: OperationAccess) -> BriefingAckOut:
    access.ensure(Permission.BRIEFING_ACK)
    operation_id, user_id = access.operation.id, access.actor.id
    strategy_version, briefing_version = current_versions(session, operation_id)
    ack = session.scalar(select(BriefingAck).where(
        BriefingAck.operation_id == operation_id, BriefingAck.user_id == user_id,
        BriefingAck.strategy_version == strategy_version, BriefingAck.briefing_version == briefing_version))
    if ack is None:
        ack = BriefingAck(operation_id=operation_id, user_id=user_id, strategy_version=strategy_version,
                          briefing_version=briefing_version)
        session.add(ack)
        record(session, actor=access.actor, action=AuditAction.BRIEFING_ACKNOWLEDGED,
               operation_id=operation_id,
               target_type="operation", target_id=operation_id,
               details={"strategy_version": strategy_version, "briefing_version": briefing_version})
        session.flush()
    return BriefingAckOut(operation_id=operation_id, strategy_version=strategy_version,
                          briefing_version=briefing_version, acknowledged_at=ack.at)


def briefing_status(*, session: Session, access: OperationAccess) -> BriefingStatusOut:
    access.ensure(Permission.BRIEFING_STATUS_VIEW)
    strategy_version, briefing_version = current_versions(session, access.operation.id)
    members = _member_rows(session, access.operation.id)
    missing = [m for m in members if not m.briefing_acknowledged]
    return BriefingStatusOut(strategy_version=strategy_version, briefing_version=briefing_version,
                             members=len(members), acknowledged=len(members) - len(missing),
                             not_acknowledged=missing)


def _version_at(session: Session, operation_id: uuid.UUID, kind: str, moment) -> int:
    version = session.scalar(select(func.max(OperationDocument.version)).where(
        OperationDocument.operation_id == operation_id, OperationDocument.kind == kind,
        OperationDocument.created_at <= moment))
    return version or 0


def briefing_figures(session: Session, *, operation: Operation) -> dict:
    """For the debrief: how many of today's members had acknowledged, before the operation went live,
    the strategy and briefing versions current at that moment (and how many acknowledged the current ones)."""
    member_ids = select(Membership.user_id).where(Membership.operation_id == operation.id)
    members = session.scalar(select(func.count()).select_from(member_ids.subquery()))
    before_live = 0
    if operation.went_live_at is not None:
        moment = operation.went_live_at
        versions = (_version_at(session, operation.id, "strategy", moment),
                    _version_at(session, operation.id, "briefing", moment))
        before_live = session.scalar(select(func.count(func.distinct(BriefingAck.user_id))).where(
            BriefingAck.operation_id == operation.id, BriefingAck.user_id.in_(member_ids),
            BriefingAck.strategy_version == versions[0], BriefingAck.briefing_version == versions[1],
            BriefingAck.at <= moment))
    strategy_version, briefing_version = current_versions(session, operation.id)
    current = session.scalar(select(func.count(func.distinct(BriefingAck.user_id))).where(
        BriefingAck.operation_id == operation.id, BriefingAck.user_id.in_(member_ids),
        BriefingAck.strategy_version == strategy_version, BriefingAck.briefing_version == briefing_version))
    return {"members": members, "acknowledged_before_live": before_live,
            "acknowledged_before_live_rate": round(before_live / members, 4) if members else None,
            "acknowledged_current": current, "strategy_version": strategy_version,
            "briefing_version": briefing_version}


REMINDER_TITLE = "Read the briefing"
REMINDER_BODY = "Please read and acknowledge the current strategy and briefing before you use templates."


def remind_unacknowledged(
    *, session: Session, access: OperationAccess, message: str | None
) -> BriefingReminderOut:
    """Push a reminder to every member who has not acknowledged the current strategy and briefing."""
    access.ensure(Permission.BRIEFING_STATUS_VIEW)
    access.ensure(Permission.NOTIFICATION_SEND)
    access.ensure_open()
    missing = [m.user_id for m in _member_rows(session, access.operation.id)
               if not m.briefing_acknowledged and m.user_id != access.actor.id]
    if not missing:
        return BriefingReminderOut(reminded=0, user_ids=[])
    from app.notifications import service as notification_service  # the push domain sits above this one

    strategy_version, briefing_version = current_versions(session, access.operation.id)
    notification = notification_service.send_to_users(
        session, operation_id=access.operation.id, sender=access.actor, user_ids=missing, title=REMINDER_TITLE,
        body=message or REMINDER_BODY, urgency="normal", kind="reminder",
        ref={"type": "briefing", "strategy_version": strategy_version, "briefing_version": briefing_version},
        url="/#/briefing",
    )
    return BriefingReminderOut(reminded=len(missing), user_ids=missing, notification_id=notification.id)


def record_decision(*, session: Session, access: OperationAccess, data: DecisionIn) -> DecisionPublic:
    access.ensure(Permission.DECISION_CREATE)
    access.ensure_open()
    decision = Decision(operation_id=access.operation.id, decision=data.decision, rationale=data.rationale,
                        author_id=access.actor.id)
    session.add(decision)
    record(session, actor=access.actor, action=AuditAction.DECISION_RECORDED,
           operation_id=access.operation.id,
           target_type="decision", target_id=decision.id,
           details={"decision": data.decision, "rationale": data.rationale})
    session.flush()
    public = DecisionPublic.model_validate(decision)
    return public.model_copy(update={"author_name": access.actor.display_name})


def list_decisions(*, session: Session, access: OperationAccess) -> list[DecisionPublic]:
    access.ensure(Permission.DECISION_VIEW)
    rows = session.execute(
        select(Decision, User.display_name).outerjoin(User, User.id == Decision.author_id)
        .where(Decision.operation_id == access.operation.id).order_by(Decision.created_at)
    ).all()
    return [DecisionPublic.model_validate(d).model_copy(update={"author_name": name}) for d, name in rows]


def get_access(*, session: Session, actor: User, operation_id: uuid.UUID) -> OperationAccess:
    return operation_access(session, actor=actor, operation_id=operation_id)
