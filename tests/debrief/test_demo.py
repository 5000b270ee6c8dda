"""`parley demo` includes a finished operation whose debrief shows every section."""

from sqlalchemy import select

from app import demo
from app.auth.models import User
from app.core.db import session_scope
from app.debrief import service as debrief_service
from app.debrief.demo import FINISHED_OPERATION
from app.operations.access import operation_access
from app.operations.models import Operation
from tests.helpers import audit_events


def test_finished_demo_operation_fills_every_section_and_loads_once(settings):
    demo.load(settings)
    events = len(audit_events())
    demo.load(settings)
    assert len(audit_events()) == events
    with session_scope() as session:
        [operation] = session.scalars(select(Operation).where(Operation.name == FINISHED_OPERATION)).all()
        assert operation.status == "closed" and operation.went_live_at < operation.closed_at
        gold = session.scalar(select(User).where(User.service_number == "G3001"))
        report = debrief_service.build(session=session, access=operation_access(session, actor=gold,
                                                                                  operation_id=operation.id))
    assert report.rumours.reports == 6 and report.rumours.groups == 4
    assert report.rumours.time_to_ruling_s.median and report.rumours.largest_groups
    assert all(report.rumours.by_outcome[o] for o in ("false", "true", "unverified", "open"))
    assert report.notifications.sent >= 3 and report.notifications.ack_rate
    assert report.templates.uses == 9 and len(report.templates.by_template) == 2
    assert report.briefing.acknowledged_before_live == 5 and report.briefing.members == 7
    assert len(report.commendations) == 2 and {c.target_type for c in report.commendations} == {
        "escalation", "template_use"}
    assert len(report.appraisals) == 4 and any(a.anonymous and a.author_name is None for a in report.appraisals)
    kinds = {entry.kind for entry in report.timeline}
    assert kinds >= {"operation", "strategy", "briefing", "decision", "rumour_reported", "rumour_acknowledged",
                     "rumour_ruled", "counter_message", "notification", "commendation"}
    assert sum(b.count for b in report.ruling_time_histogram) == 3
    assert sum(b.rumour_reports for b in report.activity) == 6 and len(report.activity) > 10
    # the briefing narrowed Gold's strategy, with its reason in the decision log
    assert any(e.kind == "decision" and "stricter than Gold's strategy" in e.title for e in report.timeline)
