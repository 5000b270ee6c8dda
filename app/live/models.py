"""The stored live events (for Last-Event-ID replay)."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, utcnow


class LiveEvent(SQLModel, table=True):
    """Every live event as published, kept for `Last-Event-ID` replay. Written in the transaction of
    the change it announces, so a subscriber never hears of a change that rolled back."""

    __tablename__ = "live_event"
    __table_args__ = (Index("ix_live_event_operation_id", "operation_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", ondelete="CASCADE")
    type: str = Field(max_length=64)
    data: dict = Field(default_factory=dict, sa_type=JSON)
    audience: dict = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
