from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class ActionTotal(BaseModel):
    action: str
    count: int


class AuditTotals(BaseModel):
    filters: dict[str, Any]
    total: int
    by_action: list[ActionTotal]


class VerifyOut(BaseModel):
    ok: bool
    events_checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    checked_at: datetime
    checkpoints_checked: int = Field(0, description="signed checkpoints the chain was held against")
    archived_events: int = Field(0, description="events whose detail retention removed (hash kept, link checked)")
    problem: str | None = Field(None, description="what is wrong, in words, when ok is false")


class PublicKeyOut(BaseModel):
    public_key: str = Field(description="Ed25519 public key, raw 32 bytes, base64url")
    key_id: str = Field(description="first 16 hex digits of the key's SHA-256, as manifests name it")
    algorithm: Literal["Ed25519"] = "Ed25519"


class Manifest(BaseModel):
    """The signed manifest of an export (JSON Lines: its last line; CSV: GET /audit/export/manifest)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["manifest"]
    format: Literal["csv", "jsonl"]
    filters: dict[str, Any]
    exported_at: str
    exported_by: dict[str, Any]
    count: int
    first_seq: int | None
    last_seq: int | None
    prev_hash: str | None
    head_seq: int
    head_hash: str
    sha256: str
    complete: bool
    scope: str
    seqs: list[list[int]]
    archived: int
    key_id: str
    signature: str


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retain_days: int | None = Field(description="days to keep the detail of the operation's audit events; "
                                                "null keeps them for ever", ge=1, le=36_500)


class RetentionOut(BaseModel):
    operation_id: str
    retain_days: int | None
    updated_at: datetime | None
