"""Demo rumours in the live demo operation: a few reports that group, one acknowledged rumour, one ruled
false with the counter-message template. Written through the real service; idempotent (fixed client ids
return the same reports, and a transition is made only from the state it starts from)."""

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from app.auth.models import User
from app.core.types import utcnow
from app.escalations import service
from app.escalations.models import Escalation, EscalationGroup
from app.escalations.schemas import EscalationCreate, TransitionIn
from app.operations.models import Operation

VICTORIA_SQUARE = (52.4797, -1.9026)
# reporter, client id, minutes ago, body
REPORTS = [
    ("O1001", "demo-rumour-1", 14, {"summary": "People saying the march has been cancelled by the council",
                                    "category": "community_tension"}),
    ("O1002", "demo-rumour-2", 11, {"summary": "Crowd being told the march is cancelled, council banned it",
                                    "category": "community_tension"}),
    ("O1003", "demo-rumour-3", 9, {"summary": "post going round saying the march is cancelled by the council",
                                   "source_url": "https://x.com/brumnews_fake/status/1862001?s=20"}),
    ("O1004", "demo-rumour-4", 8, {"summary": "Video claims police closed the mosque on Bull Street",
                                   "category": "police_action",
                                   "source_url": "https://www.tiktok.com/@someone/video/7301?is_from_webapp=1"}),
    ("O1001", "demo-rumour-5", 6, {"summary": "TikTok says police shut the mosque",
                                   "source_url": "https://m.tiktok.com/@someone/video/7301"}),
    ("O1003", "demo-rumour-6", 3, {"summary": "Someone said a man was stabbed near New Street station",
                                   "category": "violence"}),
]


def _counter_template_id(session: Session, operation: Operation):
    from app.templates.models import Template, TemplateVersion

    return session.scalar(
        select(Template.id).join(TemplateVersion, TemplateVersion.id == Template.live_version_id)
        .where(Template.operation_id == operation.id, Template.status == "approved",
               TemplateVersion.title == "Rumour: the march has not been cancelled")
    )


def load(session: Session, *, operation: Operation, users: dict[str, User]) -> None:
    now = utcnow()
    reports = {}
    for number, client_id, minutes_ago, body in REPORTS:
        lat, lon = VICTORIA_SQUARE
        existing = session.scalar(select(Escalation).where(Escalation.reporter_id == users[number].id,
                                                           Escalation.client_id == client_id))
        if existing is not None:  # loaded before (its observed time was "minutes ago" then)
            reports[client_id] = existing
            continue
        data = EscalationCreate(client_id=client_id, observed_at=now - timedelta(minutes=minutes_ago),
                                lat=lat + 0.001 * len(reports), lon=lon, accuracy_m=15, **body)
        reports[client_id], _created = service.create_escalation(
            session=session, actor=users[number], operation_id=operation.id, data=data)
    bronze = users["B2001"]
    cancelled, mosque = reports["demo-rumour-1"], reports["demo-rumour-4"]
    if session.get(EscalationGroup, mosque.group_id).status == "new":
        service.transition(session=session, actor=bronze, escalation_id=mosque.id, data=TransitionIn(
            to="acknowledged", note="Asking the Bull Street mosque committee directly."))
    if session.get(EscalationGroup, cancelled.group_id).status == "new":
        service.transition(session=session, actor=bronze, escalation_id=cancelled.id, data=TransitionIn(
            to="resolved", outcome="false", note="The march is going ahead as planned; the council has not banned it.",
            counter_template_id=_counter_template_id(session, operation)))
