"""Demo reply templates: a few approved ones for the demo operation, one with an Urdu translation.

Written through the real service (comms writes, Gold approves; the Urdu variant is written by Bronze and
approved by comms), so the demo shows the four-eyes history in the audit log. Idempotent: a template whose
title already exists in its scope is left as it is.
"""

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.auth.models import User
from app.operations.models import Operation
from app.templates import service
from app.templates.models import Template, TemplateVersion
from app.templates.schemas import SlotIn, TemplateCreate, TranslationCreate

LOCATIONS = {"name": "location", "kind": "text", "label": "Where", "max_length": 60}
DEMO_TEMPLATES: list[dict[str, Any]] = [
    {"scope": "operation", "title": "Road closures around the march", "category": "road_closures",
     "channel": "social_reply", "tags": ["roads", "traffic"],
     "body": "Roads around {location} are closed until {time} while the march passes. Please use {alternative} "
             "instead. Thank you for your patience.",
     "slots": [LOCATIONS, {"name": "time", "kind": "choice", "label": "Until",
                           "choices": ["13:00", "14:00", "15:00", "16:00", "the end of the march"]},
               {"name": "alternative", "kind": "text", "label": "Alternative route", "max_length": 60}]},
    {"scope": "operation", "title": "Rumour: the march has not been cancelled", "category": "rumour_rebuttal",
     "channel": "social_reply", "tags": ["rumour", "march"],
     "body": "We have seen posts saying today's march has been cancelled. That is not true: it is going ahead "
             "and will reach {location} at about {time}. Please rely on official updates.",
     "slots": [LOCATIONS, {"name": "time", "kind": "choice", "label": "At about",
                           "choices": ["12:30", "13:00", "13:30", "14:00"]}]},
    {"scope": "global", "title": "We are here to help", "category": "reassurance", "channel": "in_person",
     "tags": ["reassurance"],
     "body": "We are here to keep everyone safe today. If you need help, speak to any officer near {location}.",
     "slots": [LOCATIONS],
     "urdu": {"title": "ہم مدد کے لیے یہاں ہیں",
              "body": "آج ہم سب کی حفاظت کے لیے یہاں موجود ہیں۔ اگر آپ کو مدد کی ضرورت ہو تو {location} کے قریب "
                      "کسی بھی افسر سے بات کریں۔"}},
    {"scope": "global", "title": "Please move back (loudhailer)", "category": "safety", "channel": "loudhailer",
     "tags": ["safety", "crowd"],
     "body": "This is the police. For your safety, please move back from {location} and keep the road clear.",
     "slots": [LOCATIONS]},
]


def _exists(session: Session, title: str, operation_id: Any) -> bool:
    scope = Template.operation_id == operation_id if operation_id else Template.operation_id.is_(None)
    return session.scalar(select(Template.id).join(TemplateVersion, TemplateVersion.template_id == Template.id)
                          .where(scope, TemplateVersion.title == title).limit(1)) is not None


def _approve(session: Session, template_id: Any, *, author: User, approver: User) -> None:
    service.submit(session=session, context=service.load_context(session, actor=author, template_id=template_id))
    service.approve(session=session, context=service.load_context(session, actor=approver, template_id=template_id),
                    expires_at=None)


def load(session: Session, *, operation: Operation, comms: User, gold: User, bronze: User) -> int:
    """Creates the missing demo templates; returns how many were created."""
    created = 0
    for item in DEMO_TEMPLATES:
        operation_id = operation.id if item["scope"] == "operation" else None
        if _exists(session, item["title"], operation_id):
            continue
        context = service.create_template(session=session, actor=comms, data=TemplateCreate(
            operation_id=operation_id, title=item["title"], body=item["body"],
            slots=[SlotIn(**slot) for slot in item["slots"]], category=item["category"], channel=item["channel"],
            language="en", tags=item["tags"]))
        _approve(session, context.template.id, author=comms, approver=gold)
        created += 1
        if "urdu" in item:
            urdu = service.add_translation(
                session=session, context=service.load_context(session, actor=bronze, template_id=context.template.id),
                data=TranslationCreate(language="ur", title=item["urdu"]["title"], body=item["urdu"]["body"]))
            _approve(session, urdu.template.id, author=bronze, approver=comms)
            created += 1
    return created
