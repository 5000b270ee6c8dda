from sqlalchemy import select

from app import demo
from app.core.db import session_scope
from app.templates.models import Template
from tests.helpers import audit_events


def test_demo_templates_are_approved_include_urdu_and_load_idempotently(settings):
    demo.load(settings)
    events = len(audit_events())
    demo.load(settings)
    assert len(audit_events()) == events
    with session_scope() as session:
        templates = list(session.scalars(select(Template)))
    assert len(templates) == 5 and all(t.status == "approved" and t.live_version_id for t in templates)
    (urdu,) = [t for t in templates if t.language == "ur"]
    assert urdu.direction == "rtl" and urdu.translation_of is not None
    assert urdu.author_id != next(t for t in templates if t.id == urdu.translation_of).author_id
    assert sum(t.operation_id is not None for t in templates) == 2
