import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.escalations.grouping import normalise_link
from app.escalations.workflow import Category, EscalationStatus, Outcome

SUMMARY_MAX = 2000
NOTE_MAX = 5000


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL cannot store NUL in text; refuse it on every engine so behaviour is the same.
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _http_link(value: str | None) -> str | None:
    if value is not None and normalise_link(value) is None:
        raise ValueError("must be an http:// or https:// link with a host")
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a timezone (UTC ISO 8601, e.g. 2026-11-26T09:00:00Z)")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class EscalationCreate(BaseModel):
    """Only `client_id` is required: one tap with no signal must still be a report."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    client_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Made by the client (a UUID); the idempotency key of this report.",
    )
    summary: Text | None = Field(default=None, max_length=SUMMARY_MAX)
    category: Category | None = None
    source_url: Annotated[Text, AfterValidator(_http_link)] | None = Field(default=None, max_length=2048)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    observed_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _location_pairs(self):
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        if self.accuracy_m is not None and self.lat is None:
            raise ValueError("accuracy_m needs lat and lon")
        return self


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Literal["acknowledged", "investigating", "resolved"]
    outcome: Outcome | None = None
    note: Text | None = Field(default=None, max_length=NOTE_MAX)
    duplicate_of: uuid.UUID | None = Field(default=None, description="A group id, or the id of any report in it")
    assignee_id: uuid.UUID | None = None
    counter_template_id: uuid.UUID | None = None


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee_id: uuid.UUID | None = Field(description="null to unassign")
    note: Text | None = Field(default=None, max_length=NOTE_MAX)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Text = Field(min_length=1, max_length=NOTE_MAX)


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: uuid.UUID = Field(description="The group to merge into: its id, or the id of any report in it")
    note: Text | None = Field(default=None, max_length=NOTE_MAX)


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Text | None = Field(default=None, max_length=NOTE_MAX)


class AttachmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    escalation_id: uuid.UUID
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    created_at: datetime
    url: str = ""


class EscalationPublic(BaseModel):
    id: uuid.UUID
    operation_id: uuid.UUID
    client_id: str
    reporter_id: uuid.UUID
    reporter_name: str | None = None
    summary: str | None
    category: Category
    source_url: str | None
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    observed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    status: EscalationStatus
    outcome: Outcome | None
    ruling_note: str | None
    counter_template_id: uuid.UUID | None
    group_id: uuid.UUID
    group_size: int
    duplicate_of: uuid.UUID | None = None
    resolved_at: datetime | None = None
    attachments: list[AttachmentPublic] = []


class HistoryEntry(BaseModel):
    at: datetime
    action: str
    actor_id: uuid.UUID | None
    actor_name: str | None = None
    escalation_id: uuid.UUID | None
    from_status: str | None
    to_status: str | None
    outcome: str | None
    note: str | None
    details: dict


class GroupPublic(BaseModel):
    """One row of Bronze's queue: the rumour, how widely it is reported, and every report in it."""

    id: uuid.UUID
    operation_id: uuid.UUID
    status: EscalationStatus
    outcome: Outcome | None
    category: Category
    size: int
    summary: str | None = Field(description="The first report's text that has one")
    first_reported_at: datetime
    latest_reported_at: datetime
    assignee_id: uuid.UUID | None
    ruling_note: str | None
    counter_template_id: uuid.UUID | None
    duplicate_of: uuid.UUID | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    updated_at: datetime
    priority: float
    members: list[EscalationPublic] = []


class EscalationDetail(EscalationPublic):
    history: list[HistoryEntry]
    group: GroupPublic | None = Field(default=None, description="The whole group with its members: command roles only")
