"""Assertions and small utilities shared by the tests."""

import socket

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


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
