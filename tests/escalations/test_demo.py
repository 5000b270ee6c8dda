"""The demo operation carries grouped rumours, and loading the demo twice adds nothing."""

from sqlalchemy import func, select

from app import demo
from app.audit.models import AuditEvent
from app.core.db import session_scope
from app.escalations.models import Escalation, EscalationGroup
from app.operations.models import Operation


def rumour_state():
    with session_scope() as session:
        operation = session.scalar(select(Operation).where(Operation.name == demo.DEMO_OPERATION))
        groups = session.scalars(select(EscalationGroup).where(EscalationGroup.operation_id == operation.id)).all()
        reports = session.scalar(select(func.count()).select_from(Escalation)
                                 .where(Escalation.operation_id == operation.id))
        audit = session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action.like("escalation.%")))
        return reports, sorted((g.size, g.status, g.outcome, g.counter_template_id is not None) for g in groups), audit


def test_demo_rumours_are_grouped_and_idempotent(settings):
    demo.load(settings)
    reports, groups, audit = rumour_state()
    assert reports == 6
    assert groups == [(1, "new", None, False), (2, "acknowledged", None, False), (3, "resolved", "false", True)]
    demo.load(settings)
    assert rumour_state() == (reports, groups, audit)
