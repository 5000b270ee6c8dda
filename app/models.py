"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from app.audit.models import AuditArchive, AuditArchived, AuditCheckpoint, AuditEvent, AuditRetention
from app.auth.models import AuthSession, LoginFailure, SpentRefreshToken, User
from app.debrief.models import Appraisal, Commendation
from app.escalations.models import Escalation, EscalationAttachment, EscalationGroup, EscalationHistory
from app.live.models import LiveEvent
from app.notifications.models import Notification, NotificationRecipient, PushDelivery, PushSubscription
from app.operations.models import BriefingAck, Decision, Membership, Operation, OperationDocument
from app.templates.models import Template, TemplateUse, TemplateVersion

__all__ = [
    "Appraisal", "Commendation",
    "Escalation", "EscalationAttachment", "EscalationGroup", "EscalationHistory", "LiveEvent",
    "AuditArchive", "AuditArchived", "AuditCheckpoint", "AuditRetention",
    "Notification", "NotificationRecipient", "PushDelivery", "PushSubscription",
    "AuditEvent", "AuthSession", "BriefingAck", "Decision", "LoginFailure", "Membership", "Operation",
    "OperationDocument", "SpentRefreshToken", "Template", "TemplateUse", "TemplateVersion", "User",
]
