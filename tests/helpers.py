"""Assertions shared by the HTTP tests."""

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.core.db import session_scope


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


def audit_events(action: str | None = None) -> list[AuditEvent]:
    with session_scope() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


def audit_actions(action: str | None = None) -> list[str]:
    return [event.action for event in audit_events(action)]
