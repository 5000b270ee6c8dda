"""HTTP for push subscriptions, notifications and receipts. Thin: parse, call one service function."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.core.deps import CurrentUser, PrincipalDep, SessionDep, SettingsDep, check_principal
from app.core.errors import NotAuthenticated
from app.core.routing import TransactionRoute
from app.notifications import (
    dispatcher,  # noqa: F401 - registers the dispatcher, key makers and hooks
    service,
)
from app.notifications.schemas import (
    NotificationCreate,
    NotificationDetail,
    NotificationPublic,
    ReceiptIn,
    ReceiptOut,
    SubscriptionDelete,
    SubscriptionIn,
    SubscriptionPublic,
    VapidPublicKey,
)
from app.notifications.vapid import public_key_b64
from app.operations.access import operation_access

router = APIRouter(tags=["notifications"], route_class=TransactionRoute)
_optional_bearer = HTTPBearer(auto_error=False)


@router.get("/push/vapid-public-key", response_model=VapidPublicKey)
def vapid_public_key(settings: SettingsDep):
    """The browser's `applicationServerKey` for `pushManager.subscribe()`."""
    return VapidPublicKey(public_key=public_key_b64(settings))


@router.post("/push/subscriptions", response_model=SubscriptionPublic, status_code=201)
def subscribe(body: SubscriptionIn, principal: PrincipalDep, session: SessionDep, settings: SettingsDep):
    subscription = service.subscribe(session=session, settings=settings, user=principal.user,
                                     auth_session=principal.auth_session, data=body)
    return service.subscription_public(subscription)


@router.delete("/push/subscriptions", status_code=204)
def unsubscribe(body: SubscriptionDelete, actor: CurrentUser, session: SessionDep):
    service.unsubscribe(session=session, user=actor, endpoint=body.endpoint)
    return Response(status_code=204)


@router.post("/operations/{operation_id}/notifications", response_model=NotificationDetail, status_code=201)
def send_notification(operation_id: uuid.UUID, body: NotificationCreate, actor: CurrentUser, session: SessionDep):
    """Writes the message, one inbox entry per recipient and one outbox row per recipient subscription, then
    answers; the dispatcher pushes in the background."""
    access = operation_access(session, actor=actor, operation_id=operation_id)
    notification = service.send(session=session, access=access, data=body)
    return service.detail(session=session, actor=actor, notification_id=notification.id)


@router.get("/operations/{operation_id}/notifications", response_model=list[NotificationPublic])
def list_notifications(
    operation_id: uuid.UUID, actor: CurrentUser, session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, before: datetime | None = None,
):
    access = operation_access(session, actor=actor, operation_id=operation_id)
    return service.list_for_operation(session=session, access=access, limit=limit, before=before)


@router.get("/notifications/{notification_id}", response_model=NotificationDetail)
def get_notification(notification_id: uuid.UUID, actor: CurrentUser, session: SessionDep):
    return service.detail(session=session, actor=actor, notification_id=notification_id)


@router.post("/notifications/{notification_id}/receipts", response_model=ReceiptOut)
def post_receipt(
    notification_id: uuid.UUID, body: ReceiptIn, session: SessionDep, settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)],
):
    """With `Authorization: Bearer` (the app), or with the push payload's `receipt_token` and no session (the
    service worker, e.g. `delivered` on the push event or `acknowledged` from a notification action)."""
    if credentials is not None:
        user, via = check_principal(session, settings, credentials).user, "session"
    elif body.receipt_token:
        user, via = service.receipt_user(session=session, settings=settings, notification_id=notification_id,
                                         token=body.receipt_token), "token"
    else:
        raise NotAuthenticated("Sign in, or give the receipt_token from the push message.",
                               headers={"WWW-Authenticate": "Bearer"})
    return service.record_receipt(session=session, user=user, notification_id=notification_id,
                                  event=body.event, via=via)
