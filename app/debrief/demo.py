"""Demo data: a finished operation whose debrief shows every section. Idempotent.

Everything is written through the real services (so the audit log holds each action), as the people who
would do it: Gold sets the strategy, Bronze narrows it in the briefing with a recorded reason, officers
acknowledge, use templates and report rumours, Bronze rules on them and pushes messages, officers
acknowledge those, command commends good work, members appraise, Gold closes the operation. The services
stamp "now"; the operation's own rows are then moved onto an afternoon three days ago, so the debrief
shows a real timeline (the audit log keeps the times the demo was loaded).
"""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from app.auth.models import User
from app.core.config import Settings
from app.core.types import utcnow
from app.debrief import service as debrief_service
from app.debrief.models import Appraisal, Commendation
from app.debrief.schemas import AppraisalIn, CommendationIn
from app.escalations import service as escalation_service
from app.escalations.models import Escalation, EscalationGroup
from app.escalations.schemas import EscalationCreate, TransitionIn
from app.notifications import service as notification_service
from app.notifications.models import Notification, NotificationRecipient
from app.notifications.schemas import Audience, NotificationCreate
from app.operations import service as operation_service
from app.operations.access import OperationAccess, membership_of
from app.operations.engagement import EngagementRules
from app.operations.models import BriefingAck, Decision, Operation, OperationDocument
from app.operations.schemas import DecisionIn, OperationCreate, OperationUpdate
from app.templates import service as template_service
from app.templates.models import Template, TemplateUse, TemplateVersion
from app.templates.schemas import RenderIn

FINISHED_OPERATION = "Op Harbour: football derby (demo, finished)"
STRATEGY = (
    "Objective: a safe derby day; keep fans and residents accurately informed about roads and transport.\n"
    "Tone: friendly and factual. Officers may reply on social media with approved templates, post updates "
    "proactively and share photos of open routes."
)
BRIEFING = (
    "Serial 1 on the stadium approach, Serial 2 at the station. Report rumours at once.\n"
    "No photos today: the crowd includes many children. Reassurance and safety templates only."
)
BRIEFING_RATIONALE = (
    "Youth section fixture: images of children were reposted with abuse after the last derby. We do not add "
    "to them, and we keep our replies to reassurance and safety."
)
# (reporter, minutes after kick-off planning start, summary, category, link)
REPORTS = [
    ("O1001", 32, "Posts say a fan was stabbed outside the North Stand", "violence", "https://x.example/p/1"),
    ("O1002", 34, "Stabbing at the North Stand going round on X", "violence", "https://x.example/p/1"),
    ("O1003", 36, "Someone says a stabbing happened at the ground", "violence", "https://x.example/p/1"),
    ("O1004", 75, "Trains from Central cancelled after 6pm?", "transport", "https://x.example/p/2"),
    ("O1001", 140, "Away fans being kettled on Bridge Street", "police_action", "https://x.example/p/3"),
    ("O1003", 200, "Drone seen over the East car park", "other", None),
]


def _access(session: Session, operation: Operation, user: User) -> OperationAccess:
    return OperationAccess(operation=operation, actor=user, membership=membership_of(session, operation.id, user.id))


def _template_id(session: Session, title: str) -> uuid.UUID:
    return session.scalar(select(Template.id).join(TemplateVersion, TemplateVersion.template_id == Template.id)
                          .where(Template.operation_id.is_(None), TemplateVersion.title == title).limit(1))


class _Clock:
    """Where each row belongs on the demo afternoon: minutes after T0, applied once everything exists."""

    def __init__(self) -> None:
        self.t0 = (utcnow() - timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
        self.moves: list[tuple[type, uuid.UUID, dict[str, datetime]]] = []

    def at(self, minutes: float) -> datetime:
        return self.t0 + timedelta(minutes=minutes)

    def move(self, model: type, row_id: uuid.UUID, **minutes: float) -> None:
        self.moves.append((model, row_id, {name: self.at(value) for name, value in minutes.items()}))

    def apply(self, session: Session) -> None:
        session.flush()
        for model, row_id, values in self.moves:
            session.execute(update(model).where(model.id == row_id).values(**values))


def _prepare(session: Session, users: dict[str, User], clock: _Clock) -> Operation:
    gold = users["G3001"]
    access = operation_service.create_operation(session=session, actor=gold, data=OperationCreate(
        name=FINISHED_OPERATION, starts_at=clock.at(0), ends_at=clock.at(300), strategy=STRATEGY,
        strategy_engagement=EngagementRules(post_proactively=True, share_photos=True)))
    operation = access.operation
    for number, group in [("B2001", None), ("C4001", None), ("O1001", "Serial 1"), ("O1002", "Serial 1"),
                          ("O1003", "Serial 2"), ("O1004", "Serial 2")]:
        role = {"B": "bronze", "C": "comms"}.get(number[0], "officer")
        operation_service.set_member(session=session, access=access, user_id=users[number].id, role=role,
                                     group=group)
    briefing = operation_service.publish_document(
        session, access=_access(session, operation, users["B2001"]), kind="briefing", text=BRIEFING,
        engagement=EngagementRules(share_photos=False, template_categories=["reassurance", "safety"]),
        rationale=BRIEFING_RATIONALE)
    for document in session.scalars(select(OperationDocument).where(OperationDocument.operation_id == operation.id)):
        clock.move(OperationDocument, document.id, created_at=-180 if document.kind == "strategy" else -120)
    clock.move(Decision, briefing.rationale_decision_id, created_at=-121)
    # Four of six acknowledge before kick-off; PC Tomasz Wójcik only after the first hour.
    for number, minutes in [("G3001", -170), ("B2001", -115), ("O1001", -60), ("O1002", -45), ("O1003", -20),
                            ("O1004", 65)]:
        ack = operation_service.acknowledge_briefing(session=session, access=_access(session, operation,
                                                                                       users[number]))
        row = session.scalar(select(BriefingAck).where(BriefingAck.operation_id == operation.id,
                                                       BriefingAck.user_id == users[number].id))
        clock.move(BriefingAck, row.id, at=minutes)
        del ack
    operation_service.update_operation(session=session, access=access, data=OperationUpdate(status="live"))
    clock.move(Operation, operation.id, went_live_at=0, created_at=-200)
    return operation


def _activity(session: Session, operation: Operation, users: dict[str, User], clock: _Clock) -> dict:
    help_id = _template_id(session, "We are here to help")
    move_back_id = _template_id(session, "Please move back (loudhailer)")
    uses = []
    for index, (number, template_id, minutes, where) in enumerate([
        ("O1001", help_id, 20, "the North Stand"), ("O1002", help_id, 28, "Gate 4"),
        ("O1003", help_id, 45, "the station"), ("O1001", move_back_id, 95, "the turnstiles"),
        ("O1002", move_back_id, 96, "the turnstiles"), ("O1003", help_id, 150, "Bridge Street"),
        ("O1004", help_id, 170, "the car park"), ("O1001", help_id, 215, "the North Stand"),
        ("O1003", move_back_id, 250, "the station forecourt"),
    ]):
        use = template_service.render(session=session, actor=users[number], template_id=template_id, data=RenderIn(
            operation_id=operation.id, slots={"location": where}, client_id=f"demo-harbour-use-{index}")).use
        clock.move(TemplateUse, use.id, created_at=minutes)
        uses.append(use)
    reports = []
    for index, (number, minutes, summary, category, link) in enumerate(REPORTS):
        report, _ = escalation_service.create_escalation(
            session=session, actor=users[number], operation_id=operation.id, data=EscalationCreate(
                client_id=f"demo-harbour-report-{index}", summary=summary, category=category, source_url=link))
        clock.move(Escalation, report.id, created_at=minutes, reported_at=minutes, updated_at=minutes)
        reports.append(report)
    bronze = users["B2001"]
    # (report index, minutes acknowledged, minutes resolved or None, outcome, counter-message); the drone
    # report stays open
    for index, acked, resolved, outcome, counter in [(0, 35, 52, "false", help_id), (3, 80, 118, "true", None),
                                                      (4, 143, 260, "unverified", None), (5, 205, None, None, None)]:
        report = reports[index]
        escalation_service.transition(session=session, actor=bronze, escalation_id=report.id,
                                      data=TransitionIn(to="acknowledged"))
        if resolved:
            escalation_service.transition(session=session, actor=bronze, escalation_id=report.id, data=TransitionIn(
                to="resolved", outcome=outcome, counter_template_id=counter,
                note={"false": "No stabbing: a fan fainted and was treated by St John Ambulance.",
                      "true": "Confirmed by the rail operator: last train 17:50.",
                      "unverified": "Officers on Bridge Street saw no containment; cannot confirm."}[outcome]))
        first = min(REPORTS[i][1] for i, r in enumerate(reports) if r.group_id == report.group_id)
        clock.move(EscalationGroup, report.group_id, first_reported_at=first, latest_reported_at=first,
                   created_at=first, acknowledged_at=acked,
                   **({"resolved_at": resolved, "updated_at": resolved} if resolved else {"updated_at": acked}))
    return {"uses": uses, "reports": reports}


def _messages(session: Session, operation: Operation, users: dict[str, User], activity: dict,
              clock: _Clock) -> None:
    bronze_access = _access(session, operation, users["B2001"])
    # (minutes, title, body, audience, require_ack, [(officer, minutes acknowledged or None)])
    plan = [
        (10, "Kick-off plan", "Gates open 13:30. Serial 1 to the stadium approach, Serial 2 to the station.",
         Audience(kind="operation"), True, [("O1001", 11), ("O1002", 12), ("O1003", 14), ("O1004", 31)]),
        (53, "Stabbing rumour is false", "A fan fainted near the North Stand and is fine. Use the reassurance "
         "template if asked.", Audience(kind="operation"), True, [("O1001", 54), ("O1002", 55), ("O1003", 58),
                                                                  ("O1004", None)]),
        (120, "Station crowding", "Expect crowding at Central from 17:30: last train 17:50.",
         Audience(kind="group", value="Serial 2"), False, [("O1003", None), ("O1004", None)]),
    ]
    for minutes, title, body, audience, require_ack, receipts in plan:
        notification = notification_service.send(session=session, access=bronze_access, data=NotificationCreate(
            title=title, body=body, audience=audience, require_ack=require_ack, urgency="high"))
        clock.move(Notification, notification.id, created_at=minutes, expires_at=minutes + 60)
        for number, acked in receipts:
            event = "acknowledged" if acked is not None else "opened"
            notification_service.record_receipt(session=session, user=users[number], notification_id=notification.id,
                                                event=event, via="app")
            receipt = session.scalar(select(NotificationRecipient).where(
                NotificationRecipient.notification_id == notification.id,
                NotificationRecipient.user_id == users[number].id))
            times = {"delivered_at": minutes + 0.1, "opened_at": minutes + 0.5}
            clock.move(NotificationRecipient, receipt.id,
                       **(times | ({"acknowledged_at": acked} if acked is not None else {})))
    # The rulings went back to the reporters as messages when the rumours were ruled.
    ruled_at = {str(report.id): minutes for report, minutes in zip(activity["reports"], [52, 52, 52, 118, 260, 0],
                                                                    strict=True)}
    for notification in session.scalars(select(Notification).where(Notification.operation_id == operation.id,
                                                                    Notification.kind == "rumour_ruling")):
        minutes = ruled_at.get((notification.ref or {}).get("escalation_id"), 52)
        clock.move(Notification, notification.id, created_at=minutes, expires_at=minutes + 60)


def _debrief_entries(session: Session, settings: Settings, operation: Operation, users: dict[str, User],
                     activity: dict, clock: _Clock) -> None:
    entries = [
        ("B2001", CommendationIn(target_type="escalation", target_id=activity["reports"][0].id,
                                 note="First to report the stabbing rumour, with the link: we ruled it in 20 "
                                      "minutes.")),
        ("G3001", CommendationIn(target_type="template_use", target_id=activity["uses"][2].id,
                                 note="This reply calmed the queue at the station.")),
    ]
    for number, data in entries:
        commendation = debrief_service.commend(session=session, settings=settings,
                                               access=_access(session, operation, users[number]), data=data)
        clock.move(Commendation, commendation.id, created_at=290)
    for number, kind, text, anonymous in [
        ("O1001", "worked", "The reassurance template was quick to use at the gates.", False),
        ("O1004", "didnt_work", "I read the briefing late: the reminder came after I was deployed.", True),
        ("C4001", "change", "Add a transport template so officers can answer train questions.", False),
        ("B2001", "worked", "Grouped reports of the stabbing rumour made it one decision, not three.", False),
    ]:
        appraisal = debrief_service.appraise(session=session, settings=settings,
                                             access=_access(session, operation, users[number]),
                                             data=AppraisalIn(kind=kind, text=text, anonymous=anonymous))
        clock.move(Appraisal, appraisal.id, created_at=310)


def load(session: Session, *, settings: Settings, users: dict[str, User]) -> Operation:
    """The finished demo operation (created once; later calls return it unchanged)."""
    existing = session.scalar(select(Operation).where(Operation.name == FINISHED_OPERATION))
    if existing is not None:
        return existing
    clock = _Clock()
    operation = _prepare(session, users, clock)
    activity = _activity(session, operation, users, clock)
    _messages(session, operation, users, activity, clock)
    operation_service.record_decision(session=session, access=_access(session, operation, users["B2001"]),
                                      data=DecisionIn(decision="Issue the reassurance template on the stabbing rumour",
                                                      rationale="Three officers saw the same post; St John confirmed "
                                                                "the fan fainted."))
    decision = session.scalar(select(Decision).where(Decision.operation_id == operation.id)
                              .order_by(Decision.created_at.desc()).limit(1))
    clock.move(Decision, decision.id, created_at=51)
    _debrief_entries(session, settings, operation, users, activity, clock)
    operation_service.update_operation(session=session, access=_access(session, operation, users["G3001"]),
                                       data=OperationUpdate(status="closed"))
    clock.move(Operation, operation.id, closed_at=300, updated_at=300)
    clock.apply(session)
    return operation
