import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.permissions import OpRole, Role
from app.core.text import Line

SERVICE_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_number: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    device_name: str | None = Field(default=None, max_length=120)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=10, max_length=200)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    service_number: str
    display_name: str
    role: Role
    active: bool
    created_at: datetime


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserPublic


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_number: str = Field(min_length=1, max_length=32, pattern=SERVICE_NUMBER_PATTERN)
    display_name: Line = Field(min_length=1, max_length=120)
    role: Role
    password: str = Field(min_length=10, max_length=256)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Line | None = Field(default=None, min_length=1, max_length=120)
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=256)


class MyOperation(BaseModel):
    id: uuid.UUID
    name: str
    role: OpRole
    group: str | None
    status: str
    exercise: bool


class MeOut(BaseModel):
    id: uuid.UUID
    service_number: str
    display_name: str
    role: Role
    operations: list[MyOperation]


class RevokedOut(BaseModel):
    revoked_sessions: int
