from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEventPublic(BaseModel):
    seq: int
    at: str
    actor_id: str | None
    actor_role: str | None
    operation_id: str | None
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any]
    ip: str | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    events: list[AuditEventPublic]
    next_after_seq: int | None


class VerifyOut(BaseModel):
    ok: bool
    events_checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    checked_at: datetime
