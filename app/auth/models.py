import uuid
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.types import UTCDateTime, new_id, utcnow


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_number: str = Field(max_length=32, unique=True, index=True)
    display_name: str = Field(max_length=120)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuthSession(SQLModel, table=True):
    """One signed-in device. Access tokens name it (`sid`) and are refused once it is revoked."""

    __tablename__ = "auth_session"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    device_name: str | None = Field(default=None, max_length=120)
    refresh_hash: str = Field(max_length=64, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_reason: str | None = Field(default=None, max_length=64)


class SpentRefreshToken(SQLModel, table=True):
    """Hashes of refresh tokens already exchanged: presenting one again revokes the session."""

    __tablename__ = "spent_refresh_token"

    token_hash: str = Field(max_length=64, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="auth_session.id", index=True, ondelete="CASCADE")
    spent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """Recent failed logins, counted per account and per client address for throttling."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_account_at", "service_number", "at"),
        Index("ix_login_failure_ip_at", "ip", "at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_number: str = Field(max_length=64)
    ip: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
