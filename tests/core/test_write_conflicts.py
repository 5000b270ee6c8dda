"""A unique index refusing a row that a concurrent request wrote first is a 409 problem, nothing saved; any other
constraint failing is a bug and stays a 500 (both engines, real constraints)."""

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.db import session_scope
from app.core.errors import install_error_handlers
from app.operations.models import Membership
from tests.factories import make_operation, make_user


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/members/{operation_id}/{user_id}")
    def add(operation_id: uuid.UUID, user_id: uuid.UUID):
        with session_scope() as session:
            session.add(Membership(operation_id=operation_id, user_id=user_id, role="officer"))
        return {}

    return app


def test_a_unique_clash_is_a_409_and_another_constraint_a_500(settings):
    operation, user = make_operation(), make_user("officer")
    client = TestClient(_app(), raise_server_exceptions=False)

    assert client.post(f"/members/{operation.id}/{user.id}").status_code == 200
    clash = client.post(f"/members/{operation.id}/{user.id}")  # the same member again: the unique index refuses
    assert clash.status_code == 409 and clash.headers["content-type"].startswith("application/problem+json")
    assert clash.json()["type"].endswith("conflict") and "nothing was saved" in clash.json()["detail"]

    missing = client.post(f"/members/{uuid.uuid4()}/{user.id}")  # no such operation: a foreign key, a bug here
    assert missing.status_code == 500
