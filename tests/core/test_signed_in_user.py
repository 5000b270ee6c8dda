"""The hot endpoints (render, report) finish the sign-in check in their own worker thread on PostgreSQL (the
report: in its first round trip of reads): a signed-out, revoked, idle or disabled caller is still refused with
401 and nothing is recorded, and a phone's last use is still noted, on both engines."""

import uuid

import pytest
from fastapi import APIRouter
from sqlalchemy import select, update

from app.auth.models import User
from app.core.db import session_scope
from app.core.deps import SessionDep, SignedInUser
from app.core.routing import TransactionRoute
from tests.helpers import assert_problem, audit_actions


def _hot_requests(client, world, headers):
    render = client.post(f"/api/v1/templates/{uuid.uuid4()}/render", headers=headers,
                         json={"operation_id": str(world.op.id), "slots": {}, "client_id": "r-1"})
    report = client.post(f"/api/v1/operations/{world.op.id}/escalations", headers=headers,
                         json={"client_id": "e-1", "summary": "Crowd moving to Gate 3"})
    return render, report


def test_a_signed_out_phone_is_refused_by_render_and_report(client, world):
    headers = world.headers("officer")
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    before = audit_actions()

    for response in _hot_requests(client, world, headers):
        assert_problem(response, 401)
        assert response.json()["detail"] == "Your session has ended. Sign in again."

    assert audit_actions() == before


def test_a_disabled_account_is_refused_by_render_and_report(client, world):
    headers = world.headers("officer")
    with session_scope() as session:
        session.execute(update(User).where(User.id == world.users["officer"].id).values(active=False))
    before = audit_actions()

    for response in _hot_requests(client, world, headers):
        assert_problem(response, 401)

    assert audit_actions() == before


def test_a_session_idle_too_long_is_refused_and_a_used_one_is_noted(client, world, settings):
    from datetime import timedelta

    from app.auth.models import AuthSession
    from app.core.types import utcnow

    headers = world.headers("officer")
    user_id = world.users["officer"].id
    with session_scope() as session:  # used 10 minutes ago: noted again now (at most once a minute)
        session.execute(update(AuthSession).where(AuthSession.user_id == user_id)
                        .values(last_seen_at=utcnow() - timedelta(minutes=10)))
    report = client.post(f"/api/v1/operations/{world.op.id}/escalations", headers=headers,
                         json={"client_id": "e-2", "summary": "Crowd moving to Gate 3"})
    assert report.status_code == 201
    with session_scope() as session:
        (seen,) = session.execute(select(AuthSession.last_seen_at).where(AuthSession.user_id == user_id)).one()
    assert utcnow() - seen < timedelta(minutes=1)

    with session_scope() as session:  # then left idle past the limit
        session.execute(update(AuthSession).where(AuthSession.user_id == user_id)
                        .values(last_seen_at=utcnow() - timedelta(hours=settings.session_idle_hours + 1)))
    before = audit_actions()
    for response in _hot_requests(client, world, headers):
        assert_problem(response, 401)
        assert "without use" in response.json()["detail"]
    assert audit_actions() == before


def test_a_missing_token_is_refused_before_the_body_is_read(client, world):
    for response in _hot_requests(client, world, {}):
        assert_problem(response, 401)


def test_signed_in_user_only_on_sync_endpoints_that_take_the_session():
    router = APIRouter(route_class=TransactionRoute)

    async def on_the_loop(actor: SignedInUser, session: SessionDep):
        return {}

    def without_session(actor: SignedInUser):
        return {}

    def streaming(actor: SignedInUser, session: SessionDep):
        yield b""

    for endpoint in (on_the_loop, without_session, streaming):
        with pytest.raises(TypeError, match="SignedInUser"):
            router.post("/x")(endpoint)
