"""Reply templates, their versions and every use of one.

A template is the stable identity (scope, language, lifecycle state); its words live in versions. An
approved version stays in use (`live_version_id`) while a newer version is drafted and reviewed, so an
edit never takes a usable reply away from officers. Nothing here is deleted: retired templates, superseded
versions and uses stay for the debrief and the auditor.
"""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, new_id, utcnow


class Template(SQLModel, table=True):
    __table_args__ = (Index("ix_template_operation_status", "operation_id", "status"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # None: the force's standing library; otherwise usable only in that operation.
    operation_id: uuid.UUID | None = Field(default=None, foreign_key="operation.id", ondelete="RESTRICT")
    # A translation is its own template (approved on its own) linked to the original.
    translation_of: uuid.UUID | None = Field(
        default=None, foreign_key="template.id", index=True, ondelete="RESTRICT"
    )
    language: str = Field(max_length=35)
    direction: str = Field(default="ltr", max_length=3)
    status: str = Field(default="draft", max_length=16)  # workflow.TemplateState
    author_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    # The approved version officers render. No foreign key: template and version would reference each
    # other, and the service is the only writer of this column.
    live_version_id: uuid.UUID | None = Field(default=None)
    imported: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TemplateVersion(SQLModel, table=True):
    """The words of one revision. Only its review fields change after it is written."""

    __tablename__ = "template_version"
    __table_args__ = (UniqueConstraint("template_id", "number"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    template_id: uuid.UUID = Field(foreign_key="template.id", index=True, ondelete="RESTRICT")
    number: int
    title: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    slots: list = Field(default_factory=list, sa_type=JSON)
    category: str = Field(max_length=40)
    channel: str = Field(max_length=16)
    tags: list = Field(default_factory=list, sa_type=JSON)
    status: str = Field(default="draft", max_length=16)  # draft | pending | approved | superseded
    author_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reject_reason: str | None = Field(default=None, sa_type=Text)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TemplateUse(SQLModel, table=True):
    """One rendering by an officer: exactly what went out, under which approved version, by whom."""

    __tablename__ = "template_use"
    __table_args__ = (
        UniqueConstraint("user_id", "client_id"),
        Index("ix_template_use_operation_created", "operation_id", "created_at"),
        Index("ix_template_use_operation_template", "operation_id", "template_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    operation_id: uuid.UUID = Field(foreign_key="operation.id", ondelete="RESTRICT")
    # (no index of its own: the unique (user_id, client_id) index serves user_id alone too)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", ondelete="RESTRICT")
    template_id: uuid.UUID = Field(foreign_key="template.id", ondelete="RESTRICT")
    version_id: uuid.UUID = Field(foreign_key="template_version.id", ondelete="RESTRICT")
    channel: str = Field(max_length=16)
    text: str = Field(sa_type=Text)
    slot_values: dict = Field(default_factory=dict, sa_type=JSON)
    in_reply_to: str | None = Field(default=None, max_length=2048)
    client_id: str | None = Field(default=None, max_length=64)
    group_name: str | None = Field(default=None, max_length=64)  # the officer's serial at the time
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
