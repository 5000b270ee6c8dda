"""Who may do what: the only place that spells it out.

A permission is granted either by the caller's global role (GLOBAL_GRANTS) or by the caller's role
in the operation concerned (OPERATION_GRANTS). Object-level rules (four eyes, "your own report")
live in the services, which call `ensure(...)` with the operation's membership.
"""

from enum import StrEnum

from app.core.errors import Forbidden


class Role(StrEnum):
    OFFICER = "officer"
    BRONZE = "bronze"
    GOLD = "gold"
    COMMS = "comms"
    AUDITOR = "auditor"
    ADMIN = "admin"


class OpRole(StrEnum):
    OFFICER = "officer"
    BRONZE = "bronze"
    GOLD = "gold"
    COMMS = "comms"


class Permission(StrEnum):
    # accounts
    USER_MANAGE = "user.manage"
    # operations
    OPERATION_CREATE = "operation.create"
    OPERATION_SEE_ALL = "operation.see_all"
    OPERATION_VIEW = "operation.view"
    OPERATION_UPDATE = "operation.update"
    STRATEGY_EDIT = "operation.strategy_edit"
    BRIEFING_EDIT = "operation.briefing_edit"
    MEMBER_MANAGE = "operation.member_manage"
    MEMBER_VIEW = "operation.member_view"
    BRIEFING_ACK = "operation.briefing_ack"
    BRIEFING_STATUS_VIEW = "operation.briefing_status_view"
    DECISION_CREATE = "decision.create"
    DECISION_VIEW = "decision.view"
    STREAM_VIEW = "operation.stream"
    DEBRIEF_VIEW = "debrief.view"
    COMMEND = "debrief.commend"
    APPRAISE = "debrief.appraise"
    # templates
    TEMPLATE_AUTHOR = "template.author"
    TEMPLATE_APPROVE = "template.approve"
    TEMPLATE_RETIRE = "template.retire"
    TEMPLATE_USE = "template.use"
    TEMPLATE_LIBRARY_EXPORT = "template.library_export"
    # escalations
    ESCALATION_CREATE = "escalation.create"
    ESCALATION_VIEW_ALL = "escalation.view_all"
    ESCALATION_TRIAGE = "escalation.triage"
    # notifications
    NOTIFICATION_SEND = "notification.send"
    NOTIFICATION_VIEW_ALL = "notification.view_all"
    NOTIFICATION_RECEIVE = "notification.receive"
    PUSH_SUBSCRIBE = "push.subscribe"
    # audit
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_RETENTION = "audit.retention"


ALL_ROLES = frozenset(Role)
COMMAND = frozenset({OpRole.BRONZE, OpRole.GOLD})
EVERY_MEMBER = frozenset(OpRole)

GLOBAL_GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.USER_MANAGE: frozenset({Role.ADMIN}),
    Permission.OPERATION_CREATE: frozenset({Role.GOLD, Role.ADMIN}),
    Permission.OPERATION_SEE_ALL: frozenset({Role.GOLD, Role.AUDITOR, Role.ADMIN}),
    Permission.OPERATION_VIEW: frozenset({Role.GOLD, Role.AUDITOR, Role.ADMIN}),
    Permission.OPERATION_UPDATE: frozenset({Role.ADMIN}),
    Permission.MEMBER_MANAGE: frozenset({Role.ADMIN}),
    Permission.MEMBER_VIEW: frozenset({Role.AUDITOR, Role.ADMIN}),
    Permission.DECISION_VIEW: frozenset({Role.AUDITOR}),
    Permission.DEBRIEF_VIEW: frozenset({Role.AUDITOR}),
    Permission.BRIEFING_STATUS_VIEW: frozenset({Role.AUDITOR, Role.ADMIN}),
    Permission.TEMPLATE_AUTHOR: frozenset({Role.BRONZE, Role.GOLD, Role.COMMS, Role.ADMIN}),
    Permission.TEMPLATE_APPROVE: frozenset({Role.COMMS, Role.GOLD}),
    Permission.TEMPLATE_RETIRE: frozenset({Role.GOLD, Role.ADMIN}),
    Permission.TEMPLATE_LIBRARY_EXPORT: frozenset({Role.COMMS, Role.GOLD, Role.ADMIN}),
    Permission.NOTIFICATION_VIEW_ALL: frozenset({Role.AUDITOR}),
    Permission.PUSH_SUBSCRIBE: ALL_ROLES,
    Permission.AUDIT_READ: frozenset({Role.AUDITOR, Role.ADMIN}),
    Permission.AUDIT_EXPORT: frozenset({Role.AUDITOR}),
    Permission.AUDIT_VERIFY: frozenset({Role.AUDITOR, Role.ADMIN}),
    Permission.AUDIT_RETENTION: frozenset({Role.ADMIN}),
}

OPERATION_GRANTS: dict[Permission, frozenset[OpRole]] = {
    Permission.OPERATION_VIEW: EVERY_MEMBER,
    Permission.OPERATION_UPDATE: frozenset({OpRole.GOLD}),
    Permission.STRATEGY_EDIT: frozenset({OpRole.GOLD}),
    Permission.BRIEFING_EDIT: COMMAND,
    Permission.MEMBER_MANAGE: COMMAND,
    Permission.MEMBER_VIEW: COMMAND,
    Permission.BRIEFING_ACK: EVERY_MEMBER,
    Permission.BRIEFING_STATUS_VIEW: COMMAND,
    Permission.DECISION_CREATE: COMMAND,
    Permission.DECISION_VIEW: frozenset({OpRole.BRONZE, OpRole.GOLD, OpRole.COMMS}),
    Permission.STREAM_VIEW: EVERY_MEMBER,
    Permission.DEBRIEF_VIEW: COMMAND,
    Permission.COMMEND: COMMAND,
    Permission.APPRAISE: EVERY_MEMBER,
    Permission.TEMPLATE_USE: EVERY_MEMBER,
    # comms and gold of an operation may approve that operation's own templates
    Permission.TEMPLATE_APPROVE: frozenset({OpRole.COMMS, OpRole.GOLD}),
    Permission.ESCALATION_CREATE: EVERY_MEMBER,
    Permission.ESCALATION_VIEW_ALL: COMMAND,
    Permission.ESCALATION_TRIAGE: COMMAND,
    Permission.NOTIFICATION_SEND: COMMAND,
    Permission.NOTIFICATION_VIEW_ALL: COMMAND,
    Permission.NOTIFICATION_RECEIVE: EVERY_MEMBER,
}


def has(role: str, permission: Permission, op_role: str | None = None) -> bool:
    """`role` is the caller's global role; `op_role` their role in the operation concerned, if any."""
    if role in GLOBAL_GRANTS.get(permission, ()):
        return True
    return op_role is not None and op_role in OPERATION_GRANTS.get(permission, ())


def ensure(role: str, permission: Permission, op_role: str | None = None) -> None:
    if not has(role, permission, op_role):
        raise Forbidden(f"Your role may not do this ({permission.value}).")
