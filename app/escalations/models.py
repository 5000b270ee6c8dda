"""Rumour escalations, the groups that collect reports of the same rumour, photos and the triage history.

The group carries the triage state (status, outcome, ruling): Bronze rules on a rumour, not on each of the
six reports of it. A report's status is always its group's. Merged-away groups stay (with `merged_into_id`)
so the history that names them still resolves; nothing here is deleted.
"""

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, new_id, utcnow


class EscalationGroup(SQLModel, table=True):
    __tablename__ = "escalation_group"
    __table_args__ = (Index("ix_escalation_group_operation_status", "operation_id", "status"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", ondelete="CASCADE")
    status: str = Field(default="new", max_length=16)  # workflow.EscalationStatus
    outcome: str | None = Field(default=None, max_length=16)  # workflow.Outcome
    # The most severe category among the members (it drives the queue priority).
    category: str = Field(default="other", max_length=32)
    size: int = 1
    first_reported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    latest_reported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    assignee_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    ruling_note: str | None = Field(default=None, sa_type=Text)
    counter_template_id: uuid.UUID | None = Field(default=None, foreign_key="template.id", ondelete="SET NULL")
    duplicate_of_id: uuid.UUID | None = Field(default=None, foreign_key="escalation_group.id", ondelete="SET NULL")
    merged_into_id: uuid.UUID | None = Field(default=None, foreign_key="escalation_group.id", ondelete="SET NULL")
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Escalation(SQLModel, table=True):
    """One officer's report. Text and link are stored exactly as given; `text_key`/`link_key` are the
    normalised forms grouping compares."""

    __table_args__ = (
        # The offline outbox's idempotency key: one report per officer and client id, enforced by the
        # database so concurrent retries cannot double it.
        UniqueConstraint("reporter_id", "client_id"),
        Index("ix_escalation_operation_reported", "operation_id", "reported_at"),
        Index("ix_escalation_operation_link", "operation_id", "link_key"),
        Index("ix_escalation_operation_updated", "operation_id", "updated_at"),
        Index("ix_escalation_operation_seq", "operation_id", "seq", unique=True),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", ondelete="CASCADE")
    client_id: str = Field(max_length=64)
    # (no index of its own: the unique (reporter_id, client_id) index serves reporter_id alone too)
    reporter_id: uuid.UUID = Field(foreign_key="user_account.id", ondelete="CASCADE")
    group_id: uuid.UUID = Field(foreign_key="escalation_group.id", index=True, ondelete="RESTRICT")
    summary: str | None = Field(default=None, sa_type=Text)
    category: str = Field(default="other", max_length=32)
    source_url: str | None = Field(default=None, sa_type=Text)
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    observed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # observed_at when given, else created_at: the time grouping windows compare.
    reported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    text_key: str | None = Field(default=None, sa_type=Text)
    link_key: str | None = Field(default=None, max_length=512)
    # A shortener link (t.co, bit.ly) when the report also gave the link it expands to.
    short_link_key: str | None = Field(default=None, max_length=512, index=True)
    # SHA-256 of the request body: the same client_id with a different body is refused.
    request_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The report's number in its operation: 1, 2, 3... in the order reports were recorded. The database numbers
    # each as it goes in, under the operation's lock (None until then), so a report can ask "what was recorded
    # since number N?" (see escalations.service.create_escalation).
    seq: int | None = Field(default=None, sa_type=BigInteger, nullable=False)


class EscalationAttachment(SQLModel, table=True):
    __tablename__ = "escalation_attachment"
    __table_args__ = (UniqueConstraint("escalation_id", "original_sha256"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    escalation_id: uuid.UUID = Field(foreign_key="escalation.id", index=True, ondelete="CASCADE")
    storage_key: str = Field(max_length=200)
    content_type: str = Field(max_length=32)
    width: int
    height: int
    size_bytes: int
    # Of the upload as sent: a retried upload of the same photo is recognised and not stored twice.
    original_sha256: str = Field(max_length=64)
    sha256: str = Field(max_length=64)
    uploaded_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EscalationHistory(SQLModel, table=True):
    """What happened to a group or report, in order: created, grouped, transitions, assignment, notes,
    merges and splits. The audit log holds the same facts chained; this is the readable timeline."""

    __tablename__ = "escalation_history"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    group_id: uuid.UUID = Field(foreign_key="escalation_group.id", index=True, ondelete="CASCADE")
    escalation_id: uuid.UUID | None = Field(default=None, foreign_key="escalation.id", index=True, ondelete="CASCADE")
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    note: str | None = Field(default=None, sa_type=Text)
    details: dict = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
