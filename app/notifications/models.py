"""Push subscriptions, notifications, the per-recipient inbox (receipts) and the delivery outbox."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, new_id, utcnow


class PushSubscription(SQLModel, table=True):
    """One browser's push endpoint and keys, tied to the signed-in session that made it: when the session
    ends (logout, revocation, a disabled account) the subscription goes with it."""

    __tablename__ = "push_subscription"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    session_id: uuid.UUID = Field(foreign_key="auth_session.id", index=True, ondelete="CASCADE")
    endpoint: str = Field(max_length=2048, unique=True)
    p256dh: str = Field(max_length=128)
    auth: str = Field(max_length=64)
    expiration_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # which VAPID key the browser subscribed with (see `parley vapid rotate`)
    vapid_key_id: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Notification(SQLModel, table=True):
    """A message from command to officers. The full text always lives here and in the inbox; push only
    carries it (or, if sensitive, a generic line)."""

    __table_args__ = (
        Index("ix_notification_operation_created", "operation_id", "created_at"),
        Index("ix_notification_ack_due", "ack_deadline_at", "resent_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", ondelete="CASCADE")
    sender_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    kind: str = Field(default="message", max_length=32)  # message | rumour_ruling | reminder ...
    ref: dict | None = Field(default=None, sa_type=JSON)
    title: str = Field(max_length=120)
    body: str = Field(sa_type=Text)
    urgency: str = Field(max_length=16)
    ttl_seconds: int
    topic: str | None = Field(default=None, max_length=32)
    sensitive: bool = False
    url: str | None = Field(default=None, max_length=2048)
    audience: dict = Field(default_factory=dict, sa_type=JSON)
    require_ack: bool = False
    ack_within_seconds: int | None = None
    ack_deadline_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # set once, by whichever dispatcher re-sent the message to those who had not acknowledged by the deadline
    resent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class NotificationRecipient(SQLModel, table=True):
    """One inbox entry: the recipient sees the message here whether or not push reached them. Receipts
    come from the app itself (push services report no delivery)."""

    __tablename__ = "notification_recipient"
    __table_args__ = (UniqueConstraint("notification_id", "user_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    notification_id: uuid.UUID = Field(foreign_key="notification.id", index=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    opened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PushDelivery(SQLModel, table=True):
    """The outbox: one row per recipient subscription (and per round: 0 first send, 1 the ack re-send).
    A dispatcher claims rows for `claimed_until`; a crashed dispatcher's claims simply expire."""

    __tablename__ = "push_delivery"
    __table_args__ = (
        Index("ix_push_delivery_due", "status", "next_attempt_at"),
        UniqueConstraint("notification_id", "subscription_id", "round"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    notification_id: uuid.UUID = Field(foreign_key="notification.id", index=True, ondelete="CASCADE")
    recipient_id: uuid.UUID = Field(foreign_key="notification_recipient.id", index=True, ondelete="CASCADE")
    # NULL once the subscription is gone (session ended, push service said 404/410): the row is cancelled
    subscription_id: uuid.UUID | None = Field(
        default=None, foreign_key="push_subscription.id", index=True, ondelete="SET NULL"
    )
    round: int = 0
    status: str = Field(default="pending", max_length=16)  # pending | sent | failed | gone | cancelled
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
