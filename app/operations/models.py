import uuid
from datetime import datetime

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, new_id, utcnow


class Operation(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="planned", max_length=16, index=True)
    exercise: bool = False
    created_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    went_live_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("operation_id", "user_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", index=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=16)
    group_name: str | None = Field(default=None, max_length=64)
    added_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OperationDocument(SQLModel, table=True):
    """One version of Gold's strategy or Bronze's briefing. Editing adds a version; none is changed."""

    __tablename__ = "operation_document"
    __table_args__ = (UniqueConstraint("operation_id", "kind", "version"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)  # strategy | briefing
    version: int
    text: str = Field(sa_type=Text)
    engagement: dict = Field(default_factory=dict, sa_type=JSON)
    # A briefing stricter than the strategy: the rules it narrows, and the decision that explains why.
    restrictions: list = Field(default_factory=list, sa_type=JSON)
    rationale_decision_id: uuid.UUID | None = Field(default=None, foreign_key="decision.id",
                                                    ondelete="SET NULL")
    author_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BriefingAck(SQLModel, table=True):
    """An officer read a given strategy and briefing version."""

    __tablename__ = "briefing_ack"
    __table_args__ = (UniqueConstraint("operation_id", "user_id", "strategy_version", "briefing_version"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", index=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    strategy_version: int = 0
    briefing_version: int = 0
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Decision(SQLModel, table=True):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", index=True, ondelete="CASCADE")
    decision: str = Field(sa_type=Text)
    rationale: str = Field(sa_type=Text)
    author_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
