import asyncio

import pytest

from app.notifications.dispatcher import DispatcherOptions, drain_once
from tests.pushservice import PushService, running

# fast retries so the retry paths run in a test's time
FAST = DispatcherOptions(batch_size=50, lanes=2, concurrency=4, request_timeout=2.0, backoff_base_seconds=0.05,
                         backoff_max_seconds=0.2, lease_seconds=30)


@pytest.fixture(scope="session")
def push_service():
    with running(PushService()) as service:
        yield service


@pytest.fixture
def push(push_service):
    push_service.reset()
    yield push_service
    push_service.reset()


def drain(settings, options: DispatcherOptions = FAST):
    """Run the dispatcher once until nothing is due (what the background task does in a loop)."""
    return asyncio.run(drain_once(settings, options))


def subscribe(client, headers, push: PushService, **kwargs) -> dict:
    subscription = push.subscribe(**kwargs)
    response = client.post("/api/v1/push/subscriptions", json=subscription, headers=headers)
    assert response.status_code == 201, response.text
    return subscription


def send(client, world, body: dict, who: str = "bronze", op=None):
    op = op or world.op
    payload = {"title": "Move to Corporation Street", "body": "Serial 1 and 2: move now.", **body}
    return client.post(f"/api/v1/operations/{op.id}/notifications", json=payload, headers=world.headers(who))
