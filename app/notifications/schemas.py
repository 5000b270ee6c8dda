"""Request and response bodies for push subscriptions, notifications and receipts."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Urgency = Literal["very-low", "low", "normal", "high"]
ReceiptEvent = Literal["delivered", "opened", "acknowledged"]
MAX_TTL_SECONDS = 2_419_200  # 28 days: the longest TTL push services keep a message (RFC 8030 lets them cap it)


class VapidPublicKey(BaseModel):
    public_key: str = Field(description="The applicationServerKey: base64url of the uncompressed P-256 point.")


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p256dh: str = Field(min_length=1, max_length=128, description="base64url uncompressed P-256 point (65 bytes)")
    auth: str = Field(min_length=1, max_length=64, description="base64url 16-byte authentication secret")


class SubscriptionIn(BaseModel):
    """The browser's `PushSubscription.toJSON()`."""

    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(min_length=1, max_length=2048)
    keys: SubscriptionKeys
    expirationTime: int | float | None = Field(  # noqa: N815 - the browser's own spelling
        default=None, description="Milliseconds since the epoch, as the browser gives it, or null."
    )


class SubscriptionDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: str = Field(min_length=1, max_length=2048)


class SubscriptionPublic(BaseModel):
    id: uuid.UUID
    endpoint_host: str
    created_at: datetime
    expiration_time: datetime | None


class Audience(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["operation", "role", "group", "users"]
    value: str | list[uuid.UUID] | None = Field(
        default=None,
        description='role: "officer", "bronze", "gold" or "comms"; group: the group name; users: a list of user ids',
    )

    @model_validator(mode="after")
    def _value_fits_kind(self) -> "Audience":
        if self.kind == "operation" and self.value is not None:
            raise ValueError("audience 'operation' takes no value")
        if self.kind in ("role", "group") and (not isinstance(self.value, str) or not self.value.strip()):
            raise ValueError(f"audience '{self.kind}' needs a value (a name)")
        if self.kind == "role" and self.value not in ("officer", "bronze", "gold", "comms"):
            raise ValueError("role must be one of officer, bronze, gold, comms")
        if self.kind == "users" and (not isinstance(self.value, list) or not 1 <= len(self.value) <= 5000):
            raise ValueError("audience 'users' needs a list of 1 to 5000 user ids")
        return self


class NotificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=120)
    body: str = Field(min_length=1, max_length=4000)
    urgency: Urgency = "normal"
    ttl_seconds: int = Field(default=3600, ge=0, le=MAX_TTL_SECONDS)
    audience: Audience = Field(default_factory=lambda: Audience(kind="operation"))
    require_ack: bool = False
    ack_within_seconds: int | None = Field(default=None, ge=30, le=MAX_TTL_SECONDS)
    topic: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description="RFC 8030 Topic: a newer message with the same topic replaces this one on a phone that was offline",
    )
    sensitive: bool = Field(default=False, description="Push carries only a generic line; the app fetches the text")
    url: str | None = Field(default=None, max_length=2048, pattern=r"^/[^/\\]",
                            description="An in-app path to open, e.g. /#/escalations/ID")

    @model_validator(mode="after")
    def _rules(self) -> "NotificationCreate":
        if not self.title.strip() or not self.body.strip():
            raise ValueError("title and body must not be blank")
        if self.ack_within_seconds is not None and not self.require_ack:
            raise ValueError("ack_within_seconds needs require_ack: true")
        return self


class Counts(BaseModel):
    targets: int = Field(description="recipients (inbox entries)")
    sent: int = Field(description="recipients with at least one push accepted by a push service")
    failed: int = Field(description="recipients with subscriptions none of which could be sent to")
    pending: int = Field(description="recipients still waiting for their first accepted push")
    no_subscription: int = Field(description="recipients without a push subscription: inbox only")
    delivered: int
    opened: int
    acknowledged: int


class MyReceipt(BaseModel):
    delivered_at: datetime | None
    opened_at: datetime | None
    acknowledged_at: datetime | None


class NotificationPublic(BaseModel):
    id: uuid.UUID
    operation_id: uuid.UUID
    sender_id: uuid.UUID | None
    kind: str
    ref: dict | None
    title: str
    body: str
    urgency: Urgency
    ttl_seconds: int
    audience: dict
    require_ack: bool
    ack_within_seconds: int | None
    ack_deadline_at: datetime | None
    resent_at: datetime | None
    topic: str | None
    sensitive: bool
    url: str | None
    created_at: datetime
    expires_at: datetime
    counts: Counts | None = Field(default=None, description="command and auditors")
    receipt: MyReceipt | None = Field(default=None, description="the caller's own receipt, if a recipient")


class NotificationDetail(NotificationPublic):
    not_acknowledged: list[uuid.UUID] | None = Field(
        default=None, description="recipients who have not acknowledged (require_ack messages; command and auditors)"
    )
    resent_to: list[uuid.UUID] | None = Field(
        default=None, description="recipients the message was re-sent to at the ack deadline"
    )


class ReceiptIn(BaseModel):
    """From the app (Bearer token) or from the service worker without a session (`receipt_token` from the push
    payload). Receipts only move forward: acknowledged implies opened implies delivered."""

    model_config = ConfigDict(extra="forbid")
    event: ReceiptEvent
    receipt_token: str | None = Field(default=None, min_length=10, max_length=200)


class ReceiptOut(BaseModel):
    notification_id: uuid.UUID
    user_id: uuid.UUID
    delivered_at: datetime | None
    opened_at: datetime | None
    acknowledged_at: datetime | None
