"""A scripted operation with known answers for every figure of the debrief.

Rows are written directly with chosen timestamps (the services stamp `now`, and a debrief is about times).
The operation went live at T0 and closed at T0 + 6 h, two days ago. The expected answers are worked out by
hand in EXPECTED, following each domain's documented definitions: rumour percentiles interpolate linearly
(escalations), the message ack median is the statistical median and its p90 the nearest rank (notifications).
"""

import hashlib
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.core.db import session_scope
from app.core.types import utcnow
from app.escalations.models import Escalation, EscalationGroup
from app.notifications.models import Notification, NotificationRecipient
from app.operations.models import BriefingAck, Decision, Operation, OperationDocument
from app.templates.models import Template, TemplateUse, TemplateVersion
from tests.factories import World

M = timedelta(minutes=1)


@dataclass
class Scripted:
    t0: datetime
    groups: dict[str, uuid.UUID] = field(default_factory=dict)
    first_reports: dict[str, uuid.UUID] = field(default_factory=dict)
    templates: dict[str, uuid.UUID] = field(default_factory=dict)
    uses: list[uuid.UUID] = field(default_factory=list)


# (name, category, report offsets in minutes, ack offset, resolve offset, outcome)
GROUPS = [
    ("knife", "violence", [10, 11, 15], 12, 30, "false"),
    ("bus", "transport", [60], 65, 100, "true"),
    ("kettle", "disorder", [120, 125], 121, 270, "unverified"),
    ("drone", "other", [180], 190, None, None),
    ("fight", "violence", [210], None, None, None),
    ("knife-again", "other", [240], 242, 245, "duplicate"),
]
# (offset, require_ack, [(delivered, opened, acked seconds after sending or None) per recipient])
NOTIFICATIONS = [
    (20, True, [(True, True, 60), (True, True, 180), (True, True, None), (True, False, None)]),
    (100, False, [(True, True, None), (False, False, None)]),
    (200, True, [(True, True, 30), (True, True, 90)]),
]
# (template, channel, offset)
USES = [("A", "social_reply", 25), ("A", "social_reply", 26), ("A", "in_person", 40), ("A", "social_reply", 130),
        ("B", "in_person", 70), ("B", "in_person", 200)]

EXPECTED = {
    "rumours": {
        "reports": 9, "groups": 6,
        "by_outcome": {"false": 1, "true": 1, "unverified": 1, "duplicate": 1, "open": 2},
        "by_category": {"violence": 4, "disorder": 2, "police_action": 0, "community_tension": 0,
                        "transport": 1, "other": 2},
        # to ack: 60, 120, 120, 300, 600 s; to ruling: 300, 1200, 2400, 9000 s
        "time_to_ack_s": {"median": 120.0, "p90": 480.0},
        "time_to_ruling_s": {"median": 1800.0, "p90": 7020.0},
        "largest_sizes": [3, 2, 1, 1, 1],
    },
    "notifications": {"sent": 3, "targets": 8, "delivery_rate": 0.875, "open_rate": 0.75, "ack_rate": 0.6667,
                      "time_to_ack_s": {"median": 75.0, "p90": 180.0}},
    "templates": {"uses": 6, "by_channel": {"social_reply": 3, "in_person": 3},
                  "by_category": {"safety": 4, "road_closures": 2},
                  "by_template": [("Stay calm", 4, {"social_reply": 3, "in_person": 1}),
                                  ("Road closed", 2, {"in_person": 2})]},
    "briefing": {"members": 5, "acknowledged_before_live": 2, "acknowledged_before_live_rate": 0.4,
                 "acknowledged_current": 3, "strategy_version": 1, "briefing_version": 1},
    "histogram": {"under 5 min": 0, "5-15 min": 1, "15-30 min": 1, "30-60 min": 1, "1-2 h": 0, "2-4 h": 1,
                  "over 4 h": 0},
    "timeline": {"operation": 2, "strategy": 1, "briefing": 1, "decision": 1, "rumour_reported": 6,
                 "rumour_acknowledged": 5, "rumour_ruled": 4, "counter_message": 1, "notification": 3},
    "activity": {"bucket_minutes": 5, "rumour_reports": 9, "template_uses": 6, "notifications": 3},
}


def _template(session, title: str, category: str, channel: str, author: uuid.UUID) -> uuid.UUID:
    template = Template(language="en", status="approved", author_id=author)
    session.add(template)
    session.flush()
    version = TemplateVersion(template_id=template.id, number=1, title=title, body=f"{title}.", category=category,
                              channel=channel, status="approved", author_id=author)
    session.add(version)
    session.flush()
    template.live_version_id = version.id
    return template.id


def script(world: World, *, exercise: bool = False) -> Scripted:
    t0 = (utcnow() - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    scripted = Scripted(t0=t0)
    reporters = [world["officer"].id, world["officer2"].id, world["comms"].id]
    with session_scope() as session:
        operation = session.get(Operation, world.op.id)
        operation.starts_at, operation.ends_at = t0 - 60 * M, t0 + 360 * M
        operation.went_live_at, operation.closed_at = t0, t0 + 360 * M
        operation.status, operation.exercise = "closed", exercise
        op_id = operation.id
        session.add(OperationDocument(operation_id=op_id, kind="strategy", version=1, text="Calm and factual.",
                                      engagement={}, created_at=t0 - 120 * M, author_id=world["gold"].id))
        session.add(OperationDocument(operation_id=op_id, kind="briefing", version=1, text="Meet at 08:00.",
                                      engagement={}, created_at=t0 - 90 * M, author_id=world["bronze"].id))
        for who, versions, offset in [("gold", (1, 1), -60), ("officer", (1, 1), -30), ("officer2", (1, 1), 10),
                                      ("comms", (1, 0), -105)]:
            session.add(BriefingAck(operation_id=op_id, user_id=world[who].id, strategy_version=versions[0],
                                    briefing_version=versions[1], at=t0 + offset * M))
        session.add(Decision(operation_id=op_id, decision="Counter the knife rumour", rationale="It is false.",
                             author_id=world["bronze"].id, created_at=t0 + 35 * M))
        scripted.templates = {
            "A": _template(session, "Stay calm", "safety", "social_reply", world["comms"].id),
            "B": _template(session, "Road closed", "road_closures", "in_person", world["comms"].id),
        }
        _rumours(session, scripted, op_id, reporters)
        _notifications(session, scripted, op_id, world)
        for index, (name, channel, offset) in enumerate(USES):
            template_id = scripted.templates[name]
            version_id = session.get(Template, template_id).live_version_id
            use = TemplateUse(operation_id=op_id, user_id=world["officer"].id, template_id=template_id,
                              version_id=version_id, channel=channel, text=f"use {index}", client_id=f"u{index}",
                              created_at=t0 + offset * M)
            session.add(use)
            scripted.uses.append(use.id)
    return scripted


def _rumours(session, scripted: Scripted, op_id: uuid.UUID, reporters: list[uuid.UUID]) -> None:
    t0 = scripted.t0
    numbers = itertools.count(1)  # each report's number in the operation
    for name, category, offsets, ack, resolved, outcome in GROUPS:
        group = EscalationGroup(
            operation_id=op_id, category=category, size=len(offsets), first_reported_at=t0 + offsets[0] * M,
            latest_reported_at=t0 + offsets[-1] * M,
            status="resolved" if resolved else ("acknowledged" if ack else "new"), outcome=outcome,
            acknowledged_at=t0 + ack * M if ack else None, resolved_at=t0 + resolved * M if resolved else None,
            ruling_note=f"Ruled {outcome}" if outcome else None,
            counter_template_id=scripted.templates["A"] if name == "knife" else None)
        session.add(group)
        session.flush()
        scripted.groups[name] = group.id
        for index, offset in enumerate(offsets):
            at = t0 + offset * M
            report = Escalation(operation_id=op_id, client_id=f"{name}-{index}", reporter_id=reporters[index],
                                group_id=group.id, summary=f"{name} report {index}", category=category,
                                reported_at=at, created_at=at, updated_at=at,
                                request_hash=hashlib.sha256(f"{name}{index}".encode()).hexdigest(),
                                seq=next(numbers))
            session.add(report)
            scripted.first_reports.setdefault(name, report.id)
    # A group merged into the knife rumour: counted there, not on its own.
    session.add(EscalationGroup(operation_id=op_id, category="other", size=0, first_reported_at=t0 + 14 * M,
                                latest_reported_at=t0 + 14 * M, merged_into_id=scripted.groups["knife"]))
    session.flush()


def _notifications(session, scripted: Scripted, op_id: uuid.UUID, world: World) -> None:
    recipients = [world["officer"].id, world["officer2"].id, world["comms"].id, world["bronze"].id]
    for index, (offset, require_ack, receipts) in enumerate(NOTIFICATIONS):
        sent = scripted.t0 + offset * M
        notification = Notification(operation_id=op_id, sender_id=world["bronze"].id, title=f"Message {index}",
                                    body=f"Body {index}", urgency="normal", ttl_seconds=3600,
                                    require_ack=require_ack, audience={"kind": "operation"}, created_at=sent,
                                    expires_at=sent + 60 * M)
        session.add(notification)
        session.flush()
        for user_id, (delivered, opened, acked) in zip(recipients, receipts, strict=False):
            session.add(NotificationRecipient(
                notification_id=notification.id, user_id=user_id,
                delivered_at=sent + 5 * M / 60 if delivered else None, opened_at=sent + 10 * M / 60 if opened else None,
                acknowledged_at=sent + timedelta(seconds=acked) if acked is not None else None))


def make_template_use(world: World) -> uuid.UUID:
    """One approved template and one use of it by the officer in `world.op` (for permission walks)."""
    with session_scope() as session:
        template_id = _template(session, "Thanks", "information", "social_reply", world["comms"].id)
        use = TemplateUse(operation_id=world.op.id, user_id=world["officer"].id, template_id=template_id,
                          version_id=session.get(Template, template_id).live_version_id, channel="social_reply",
                          text="Thanks.", client_id=str(uuid.uuid4()))
        session.add(use)
    return use.id
