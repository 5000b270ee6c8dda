import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.operations.schemas import Prose


class CommendationTarget(StrEnum):
    TEMPLATE_USE = "template_use"
    ESCALATION = "escalation"


class AppraisalKind(StrEnum):
    WORKED = "worked"
    DIDNT_WORK = "didnt_work"
    CHANGE = "change"


APPRAISAL_HEADINGS = {AppraisalKind.WORKED: "What worked", AppraisalKind.DIDNT_WORK: "What didn't work",
                      AppraisalKind.CHANGE: "What to change"}


class DebriefFormat(StrEnum):
    JSON = "json"
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"


class CommendationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target_type: CommendationTarget
    target_id: uuid.UUID
    note: Prose = Field(min_length=1, max_length=2_000)


class CommendationPublic(BaseModel):
    id: uuid.UUID
    operation_id: uuid.UUID
    target_type: CommendationTarget
    target_id: uuid.UUID
    note: str
    author_name: str | None
    created_at: datetime
    # What was commended, in a line, and whose work it was.
    target_summary: str | None = None
    officer_name: str | None = None


class AppraisalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: AppraisalKind
    text: Prose = Field(min_length=1, max_length=5_000)
    anonymous: bool = Field(
        default=False, description="leave your name out of the report (the audit log still records it)")


class AppraisalPublic(BaseModel):
    """An unnamed entry has no author here, in any format."""

    id: uuid.UUID
    operation_id: uuid.UUID
    kind: AppraisalKind
    text: str
    anonymous: bool
    author_name: str | None
    created_at: datetime


class Spread(BaseModel):
    """Seconds: the median and the 90th percentile, as the owning domain computes them; null when nothing
    was measured."""

    median: float | None = None
    p90: float | None = None


class RumourFigures(BaseModel):
    model_config = ConfigDict(extra="allow")
    reports: int = 0
    groups: int = 0
    by_outcome: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(
        ("false", "true", "unverified", "duplicate", "open"), 0))
    by_category: dict[str, int] = Field(default_factory=dict)
    time_to_ack_s: Spread = Field(default_factory=Spread)
    time_to_ruling_s: Spread = Field(default_factory=Spread)
    largest_groups: list[dict[str, Any]] = Field(default_factory=list)


class NotificationFigures(BaseModel):
    model_config = ConfigDict(extra="allow")
    sent: int = 0
    targets: int = 0
    delivery_rate: float | None = None
    open_rate: float | None = None
    ack_rate: float | None = None
    time_to_ack_s: Spread = Field(default_factory=Spread)


class TemplateFigures(BaseModel):
    model_config = ConfigDict(extra="allow")
    uses: int = 0
    by_template: list[dict[str, Any]] = Field(default_factory=list)
    by_channel: dict[str, int] = Field(default_factory=dict)
    by_category: dict[str, int] = Field(default_factory=dict)


class BriefingFigures(BaseModel):
    members: int
    acknowledged_before_live: int
    acknowledged_before_live_rate: float | None
    acknowledged_current: int
    strategy_version: int
    briefing_version: int


class DebriefOperation(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    exercise: bool
    starts_at: datetime
    ends_at: datetime
    went_live_at: datetime | None
    closed_at: datetime | None


class TimelineEntry(BaseModel):
    at: datetime
    kind: Literal["operation", "strategy", "briefing", "decision", "rumour_reported", "rumour_acknowledged",
                  "rumour_ruled", "counter_message", "notification", "commendation"]
    title: str
    detail: str | None = None
    ref_id: uuid.UUID | None = None


class ActivityBucket(BaseModel):
    start: datetime
    rumour_reports: int
    template_uses: int
    notifications: int


class HistogramBin(BaseModel):
    label: str
    upto_s: float | None = Field(description="upper bound in seconds; null for the last, open bin")
    count: int


class DebriefOut(BaseModel):
    operation: DebriefOperation
    exercise: bool = Field(description="an exercise operation: every format is marked as such")
    generated_at: datetime
    rumours: RumourFigures
    notifications: NotificationFigures
    templates: TemplateFigures
    briefing: BriefingFigures
    commendations: list[CommendationPublic]
    appraisals: list[AppraisalPublic]
    appraisals_note: str = "Appraisal entries may be unnamed: their authors chose to leave their names out."
    timeline: list[TimelineEntry]
    activity: list[ActivityBucket] = Field(description="activity over time, the data behind the chart")
    ruling_time_histogram: list[HistogramBin] = Field(
        default_factory=list, description="rumour groups by time from first report to ruling")
    charts: dict[str, str] = Field(
        default_factory=dict, description="the charts as self-contained SVG documents (no scripts, nothing "
                                          "fetched): `ruling_time` and `activity`; show them as images")
