"""Demo messages on the live demo operation: one acknowledged by an officer, one awaiting acknowledgement.
Idempotent (found by title)."""

from sqlalchemy import select
from sqlmodel import Session

from app.auth.models import User
from app.notifications import service
from app.notifications.models import Notification
from app.notifications.schemas import Audience, NotificationCreate
from app.operations.access import OperationAccess, membership_of
from app.operations.models import Operation

ROUTE_CHANGE = "Route change: Corporation Street"
RUMOUR_RULING = "Rumour about the mosque is false"


def load(session: Session, *, operation: Operation, bronze: User, officers: list[User]) -> int:
    """Returns how many messages it added (0 when they exist already)."""
    exists = session.scalar(select(Notification.id).where(Notification.operation_id == operation.id,
                                                          Notification.title == ROUTE_CHANGE))
    if exists is not None:
        return 0
    access = OperationAccess(operation=operation, actor=bronze,
                             membership=membership_of(session, operation.id, bronze.id))
    route = service.send(session=session, access=access, data=NotificationCreate(
        title=ROUTE_CHANGE, urgency="high", ttl_seconds=3600, require_ack=True, ack_within_seconds=600,
        topic="route", body="The march is diverting via Corporation Street. Serial 1 move to the junction with "
                            "Bull Street now and acknowledge.", audience=Audience(kind="operation")))
    ruling = service.send(session=session, access=access, data=NotificationCreate(
        title=RUMOUR_RULING, urgency="normal", ttl_seconds=7200, require_ack=True,
        body="Checked with the venue and the local team: nothing has happened at the mosque. If asked, use the "
             "approved reply 'Rumour: no incident'.", audience=Audience(kind="role", value="officer")))
    first, second, *_ = officers
    service.record_receipt(session=session, user=first, notification_id=route.id, event="acknowledged", via="demo")
    service.record_receipt(session=session, user=second, notification_id=route.id, event="opened", via="demo")
    service.record_receipt(session=session, user=first, notification_id=ruling.id, event="delivered", via="demo")
    return 2
