"""Commendations and appraisal entries: what the debrief recognises and what officers say went well or not."""

import uuid
from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, new_id, utcnow


class Commendation(SQLModel, table=True):
    """Bronze or Gold recognising one template use or one escalation ("this reply calmed the crowd")."""

    __table_args__ = (Index("ix_commendation_operation_created", "operation_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", ondelete="CASCADE")
    target_type: str = Field(max_length=16)  # template_use | escalation
    # No foreign key: the target lives in one of two tables; the service checks it is in this operation.
    target_id: uuid.UUID
    note: str = Field(sa_type=Text)
    author_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Appraisal(SQLModel, table=True):
    """What worked, what didn't, what to change. An unnamed entry stores no author here at all: the
    audit log is the only place that knows who wrote it."""

    __table_args__ = (Index("ix_appraisal_operation_created", "operation_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)  # worked | didnt_work | change
    text: str = Field(sa_type=Text)
    anonymous: bool = False
    author_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
