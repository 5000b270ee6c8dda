"""The hot endpoints (render, report) finish the sign-in check in their own worker thread on PostgreSQL: a
signed-out, revoked or disabled caller is still refused with 401 and nothing is recorded, on both engines."""

import uuid

import pytest
from fastapi import APIRouter
from sqlalchemy import update

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
