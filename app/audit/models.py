import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, new_id, utcnow


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


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement "the chain had this head at this time", written every minute and on shutdown
    (also to PARLEY_AUDIT_CHECKPOINT_DIR): a chain cut or rewritten later no longer matches it."""

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_type=BigInteger, index=True)
    head_hash: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)
    key_id: str = Field(max_length=16)
    signature: str = Field(max_length=128)


class AuditRetention(SQLModel, table=True):
    """How long an operation's audit detail is kept before archiving (no row: kept for ever)."""

    __tablename__ = "audit_retention"

    operation_id: uuid.UUID = Field(primary_key=True, foreign_key="operation.id", ondelete="CASCADE")
    retain_days: int
    updated_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    updated_by: uuid.UUID | None = Field(default=None)


class AuditArchive(SQLModel, table=True):
    """One archiving run for one operation: the export written first, then the detail removed."""

    __tablename__ = "audit_archive"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: str = Field(max_length=36, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    cutoff: datetime = Field(sa_type=UTCDateTime)
    count: int
    first_seq: int = Field(sa_type=BigInteger)
    last_seq: int = Field(sa_type=BigInteger)
    file_name: str = Field(max_length=255)
    sha256: str = Field(max_length=64)


class AuditArchived(SQLModel, table=True):
    """An event whose detail retention removed. The database trigger lets `audit_event.details` be
    replaced by the archive marker only for a seq listed here; the hash and every other field stay."""

    __tablename__ = "audit_archived"

    seq: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    archive_id: uuid.UUID = Field(foreign_key="audit_archive.id", index=True)
