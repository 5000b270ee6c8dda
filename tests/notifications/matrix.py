"""Setups and bodies for the notification routes in tests/core/test_permission_matrix.py."""

import uuid

from app.core.config import get_settings
from app.core.db import session_scope
from app.notifications.models import PushSubscription
from app.notifications.vapid import VapidSigner

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"
OFFICERS_ENDPOINT = "https://fcm.googleapis.com/fcm/send/officers-phone"


def subscription_body(_world) -> dict:
    return {"endpoint": f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}",
            "keys": {"p256dh": P256DH, "auth": AUTH}}


def officers_subscription(_client, world) -> dict[str, str]:
    """The officer has a subscription; DELETE names it (anyone else: 404, not theirs)."""
    from tests.factories import auth_headers

    auth_headers(world["officer"])
    with session_scope() as session:
        from sqlalchemy import select

        from app.auth.models import AuthSession

        auth_session = session.scalar(select(AuthSession).where(AuthSession.user_id == world["officer"].id))
        session.add(PushSubscription(user_id=world["officer"].id, session_id=auth_session.id,
                                     endpoint=OFFICERS_ENDPOINT, p256dh=P256DH, auth=AUTH,
                                     vapid_key_id=VapidSigner.from_settings(get_settings()).key_id))
    return {}


def message_to_everyone(client, world) -> dict[str, str]:
    """Bronze sends to the whole operation: gold, comms and the officers are recipients."""
    response = client.post(f"/api/v1/operations/{world.op.id}/notifications", headers=world.headers("bronze"),
                           json={"title": "Matrix", "body": "Everyone"})
    assert response.status_code == 201, response.text
    return {"notification_id": response.json()["id"]}
