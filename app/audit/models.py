from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """One link of the hash chain. Ids are stored as text: the log outlives the rows it names."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_operation_seq", "operation_id", "seq"),
        Index("ix_audit_event_actor_seq", "actor_id", "seq"),
        Index("ix_audit_event_action_seq", "action", "seq"),
        Index("ix_audit_event_at", "at"),
    )

    seq: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: str | None = Field(default=None, max_length=36)
    actor_role: str | None = Field(default=None, max_length=16)
    operation_id: str | None = Field(default=None, max_length=36)
    action: str = Field(max_length=64)
    target_type: str | None = Field(default=None, max_length=32)
    target_id: str | None = Field(default=None, max_length=64)
    details: dict = Field(default_factory=dict, sa_type=JSON)
    ip: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
