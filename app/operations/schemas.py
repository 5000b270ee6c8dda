import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.permissions import OpRole
from app.core.text import Line, Prose
from app.operations.engagement import EngagementRules
from app.operations.workflow import OperationStatus

GroupName = Field(default=None, min_length=1, max_length=64)


class OperationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Line = Field(min_length=1, max_length=200)
    starts_at: datetime
    ends_at: datetime
    exercise: bool = False
    strategy: Prose | None = Field(default=None, max_length=20_000)
    strategy_engagement: EngagementRules | None = None
    briefing: Prose | None = Field(default=None, max_length=20_000)

    @model_validator(mode="after")
    def _times(self):
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("times need a timezone (UTC ISO 8601, e.g. 2026-11-26T09:00:00Z)")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.strategy_engagement is not None and not self.strategy:
            raise ValueError("strategy_engagement goes with a strategy text")
        return self


class OperationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Line | None = Field(default=None, min_length=1, max_length=200)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    status: OperationStatus | None = None
    exercise: bool | None = None
    strategy: Prose | None = Field(default=None, max_length=20_000)
    briefing: Prose | None = Field(default=None, max_length=20_000)

    @model_validator(mode="after")
    def _aware(self):
        for value in (self.starts_at, self.ends_at):
            if value is not None and value.tzinfo is None:
                raise ValueError("times need a timezone (UTC ISO 8601)")
        return self


class EngagementRulePublic(BaseModel):
    """One engagement rule as officers read it: what Gold set, what Bronze narrowed, what applies."""

    rule: str
    label: str
    strategy: bool | list[str] | None
    briefing: bool | list[str] | None = Field(description="null: the briefing follows the strategy")
    applies: bool | list[str] | None = Field(description="what officers must follow; null categories = all")
    restricted_by_briefing: bool
    rationale: str | None = Field(default=None, description="the decision-log rationale for the restriction")


class EngagementPublic(BaseModel):
    rules: list[EngagementRulePublic]
    rationale_decision_id: uuid.UUID | None = None
    unexplained_restrictions: list[str] = Field(
        default_factory=list,
        description="rules the briefing narrows with no recorded rationale (the strategy changed after it)")


class OperationPublic(BaseModel):
    id: uuid.UUID
    name: str
    starts_at: datetime
    ends_at: datetime
    status: OperationStatus
    exercise: bool
    strategy: str | None
    strategy_version: int
    briefing: str | None
    briefing_version: int
    created_at: datetime
    went_live_at: datetime | None
    closed_at: datetime | None
    my_role: OpRole | None = None
    my_group: str | None = None
    briefing_acknowledged: bool = False
    engagement: EngagementPublic | None = None


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Prose = Field(min_length=1, max_length=20_000)
    engagement: EngagementRules | None = Field(
        default=None, description="omitted: the previous version's engagement permissions carry over")


class BriefingIn(DocumentIn):
    rationale: Prose | None = Field(
        default=None, min_length=1, max_length=10_000,
        description="required when the briefing is stricter than Gold's strategy; goes to the decision log")


class BriefingReminderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: Prose | None = Field(default=None, min_length=1, max_length=500)


class BriefingReminderOut(BaseModel):
    reminded: int
    user_ids: list[uuid.UUID]
    notification_id: uuid.UUID | None = None


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: OpRole
    group: Line | None = GroupName


class MemberPublic(BaseModel):
    user_id: uuid.UUID
    service_number: str
    display_name: str
    role: OpRole
    group: str | None
    briefing_acknowledged: bool
    acknowledged_at: datetime | None = None


class BriefingAckOut(BaseModel):
    operation_id: uuid.UUID
    strategy_version: int
    briefing_version: int
    acknowledged_at: datetime


class BriefingStatusOut(BaseModel):
    strategy_version: int
    briefing_version: int
    members: int
    acknowledged: int
    not_acknowledged: list[MemberPublic]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Prose = Field(min_length=1, max_length=5_000)
    rationale: Prose = Field(min_length=1, max_length=10_000)


class DecisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    operation_id: uuid.UUID
    decision: str
    rationale: str
    author_id: uuid.UUID | None
    author_name: str | None = None
    created_at: datetime


DocumentKind = Literal["strategy", "briefing"]
