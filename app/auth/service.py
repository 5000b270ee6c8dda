"""Accounts and sessions: sign-in with throttling, rotating refresh tokens, revocation."""

import time
import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlmodel import Session

from app.audit.writer import AuditAction, client_ip, record
from app.auth.models import AuthSession, LoginFailure, SpentRefreshToken, User
from app.auth.schemas import MeOut, MyOperation, TokenOut, UserCreate, UserPublic, UserUpdate
from app.core.config import Settings
from app.core.errors import Conflict, NotAuthenticated, NotFound, RateLimited
from app.core.permissions import Permission, ensure
from app.core.security import (
    TokenError,
    create_access_token,
    hash_password,
    new_refresh_token,
    split_refresh_token,
    token_digest,
    verify_password,
)
from app.core.types import utcnow
from app.operations.models import Membership, Operation

WRONG_CREDENTIALS = "Service number or password is wrong."


def _issue_tokens(*, user: User, auth_session: AuthSession, refresh_token: str, settings: Settings) -> TokenOut:
    access, expires_in = create_access_token(
        user_id=user.id, session_id=auth_session.id, role=user.role, settings=settings
    )
    return TokenOut(
        access_token=access, refresh_token=refresh_token, expires_in=expires_in,
        user=UserPublic.model_validate(user),
    )


def _recent_failures(session: Session, *, service_number: str, ip: str, settings: Settings) -> int:
    since = utcnow() - timedelta(minutes=settings.login_window_minutes)
    by_account = session.scalar(
        select(func.count()).select_from(LoginFailure)
        .where(LoginFailure.service_number == service_number, LoginFailure.at >= since)
    )
    by_address = session.scalar(
        select(func.count()).select_from(LoginFailure).where(LoginFailure.ip == ip, LoginFailure.at >= since)
    )
    # an address is shared by a whole serial behind one mobile gateway: allow it more attempts
    return max(by_account or 0, (by_address or 0) // 3)


def _note_failure(
    session: Session, *, service_number: str, ip: str, user: User | None, reason: str, throttled: bool
) -> None:
    """The caller raises with keep_changes=True, so this is committed although the request fails."""
    if not throttled:
        session.add(LoginFailure(service_number=service_number, ip=ip))
    action = AuditAction.AUTH_LOGIN_THROTTLED if throttled else AuditAction.AUTH_LOGIN_FAILED
    record(session, actor=user, action=action, target_type="user", target_id=user.id if user else None,
           details={"service_number": service_number, "reason": reason})


def login(
    *, session: Session, settings: Settings, service_number: str, password: str, device_name: str | None
) -> TokenOut:
    ip = client_ip.get() or "unknown"
    failures = _recent_failures(session, service_number=service_number, ip=ip, settings=settings)
    user = session.scalar(select(User).where(User.service_number == service_number))
    if failures >= settings.login_block_after:
        _note_failure(session, service_number=service_number, ip=ip, user=user, reason="throttled", throttled=True)
        raise RateLimited("Too many failed sign-ins. Wait a few minutes and try again.",
                          retry_after=settings.login_window_minutes * 60 // 2, keep_changes=True)
    stored_hash = user.password_hash if user else None
    # Nothing is written yet: end the read transaction so the slow part (delay, Argon2) holds no lock.
    session.rollback()
    if failures >= settings.login_delay_after:
        time.sleep(min(settings.login_max_delay_seconds, 0.25 * 2 ** (failures - settings.login_delay_after)))
    password_ok = verify_password(password, stored_hash, settings)
    user = session.get(User, user.id) if user else None
    if not password_ok or user is None or not user.active:
        reason = "unknown_account" if user is None else ("disabled" if not user.active else "wrong_password")
        _note_failure(session, service_number=service_number, ip=ip, user=user, reason=reason, throttled=False)
        raise NotAuthenticated(WRONG_CREDENTIALS, keep_changes=True)
    session.execute(delete(LoginFailure).where(LoginFailure.service_number == service_number))
    auth_session = AuthSession(user_id=user.id, device_name=device_name, refresh_hash="")
    refresh_token = new_refresh_token(auth_session.id)
    auth_session.refresh_hash = token_digest(refresh_token)
    session.add(auth_session)
    record(session, actor=user, action=AuditAction.AUTH_LOGIN, target_type="session", target_id=auth_session.id,
           details={"device_name": device_name})
    session.flush()
    return _issue_tokens(user=user, auth_session=auth_session, refresh_token=refresh_token, settings=settings)




def refresh(*, session: Session, settings: Settings, refresh_token: str) -> TokenOut:
    try:
        session_id = split_refresh_token(refresh_token)
    except TokenError as exc:
        raise NotAuthenticated("This refresh token is not valid.") from exc
    auth_session = session.get(AuthSession, session_id)
    digest = token_digest(refresh_token)
    if auth_session is None or auth_session.revoked_at is not None:
        raise NotAuthenticated("Your session has ended. Sign in again.")
    if digest != auth_session.refresh_hash:
        if session.get(SpentRefreshToken, digest) is not None:
            # a spent token came back: someone holds a copy. End the whole session, and keep that on record.
            revoke_session(session, auth_session=auth_session, reason="refresh_token_reused")
            record(session, actor=session.get(User, auth_session.user_id), action=AuditAction.AUTH_REFRESH_REUSED,
                   target_type="session", target_id=auth_session.id, details={"revoked": True})
            raise NotAuthenticated("This refresh token was already used. Sign in again.", keep_changes=True)
        raise NotAuthenticated("This refresh token is not valid. Sign in again.")
    user = session.get(User, auth_session.user_id)
    now = utcnow()
    if user is None or not user.active:
        raise NotAuthenticated("This account is disabled.")
    if now - auth_session.last_seen_at > timedelta(hours=settings.session_idle_hours) or \
            now - auth_session.created_at > timedelta(hours=settings.session_max_hours):
        raise NotAuthenticated("Your session expired. Sign in again.")
    session.add(SpentRefreshToken(token_hash=digest, session_id=auth_session.id))
    new_token = new_refresh_token(auth_session.id)
    auth_session.refresh_hash = token_digest(new_token)
    auth_session.last_seen_at = now
    session.add(auth_session)
    record(session, actor=user, action=AuditAction.AUTH_REFRESH, target_type="session", target_id=auth_session.id)
    session.flush()
    return _issue_tokens(user=user, auth_session=auth_session, refresh_token=new_token, settings=settings)


def revoke_session(session: Session, *, auth_session: AuthSession, reason: str) -> None:
    """Every way a session ends goes through here (logout, admin revoke, disabling a user)."""
    if auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()
        auth_session.revoked_reason = reason
        session.add(auth_session)
    for hook in SESSION_END_HOOKS:
        hook(session, auth_session)


# Other domains register what must go when a session ends (e.g. its push subscriptions).
SESSION_END_HOOKS: list = []


def logout(*, session: Session, user: User, auth_session: AuthSession) -> None:
    revoke_session(session, auth_session=auth_session, reason="logout")
    record(session, actor=user, action=AuditAction.AUTH_LOGOUT, target_type="session", target_id=auth_session.id)


def me(*, session: Session, user: User) -> MeOut:
    rows = session.execute(
        select(Operation, Membership).join(Membership, Membership.operation_id == Operation.id)
        .where(Membership.user_id == user.id).order_by(Operation.starts_at.desc())
    ).all()
    operations = [
        MyOperation(id=op.id, name=op.name, role=m.role, group=m.group_name, status=op.status, exercise=op.exercise)
        for op, m in rows
    ]
    return MeOut(id=user.id, service_number=user.service_number, display_name=user.display_name,
                 role=user.role, operations=operations)


def create_user(*, session: Session, settings: Settings, actor: User | None, data: UserCreate) -> User:
    if actor is not None:
        ensure(actor.role, Permission.USER_MANAGE)
    password_hash = hash_password(data.password, settings)  # before the first query: no lock held meanwhile
    if session.scalar(select(User.id).where(User.service_number == data.service_number)):
        raise Conflict(f"Service number {data.service_number} is already in use.")
    user = User(service_number=data.service_number, display_name=data.display_name, role=data.role,
                password_hash=password_hash)
    session.add(user)
    record(session, actor=actor, action=AuditAction.USER_CREATED, target_type="user", target_id=user.id,
           details={"service_number": user.service_number, "role": user.role, "display_name": user.display_name})
    session.flush()
    return user


def list_users(*, session: Session, actor: User, q: str | None, role: str | None, active: bool | None) -> list[User]:
    ensure(actor.role, Permission.USER_MANAGE)
    query = select(User).order_by(User.service_number)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(func.lower(User.service_number).like(pattern) | func.lower(User.display_name).like(pattern))
    if role:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active == active)
    return list(session.scalars(query))


def get_user(*, session: Session, actor: User, user_id: uuid.UUID) -> User:
    ensure(actor.role, Permission.USER_MANAGE)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


def _revoke_all(session: Session, user: User, reason: str) -> int:
    live = session.scalars(
        select(AuthSession).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
    ).all()
    for auth_session in live:
        revoke_session(session, auth_session=auth_session, reason=reason)
    return len(live)


def update_user(*, session: Session, settings: Settings, actor: User, user: User, data: UserUpdate) -> User:
    ensure(actor.role, Permission.USER_MANAGE)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if user.id == actor.id and (changes.get("active") is False or changes.get("role", user.role) != user.role):
        raise Conflict("You cannot disable yourself or change your own role.")
    details: dict = {}
    for name in ("display_name", "role", "active"):
        if name in changes and getattr(user, name) != changes[name]:
            details[name] = {"from": getattr(user, name), "to": changes[name]}
            setattr(user, name, changes[name])
    if "password" in changes:
        user.password_hash = hash_password(changes["password"], settings)
        details["password"] = "reset"
    revoked = 0
    if "password" in changes or changes.get("active") is False:
        revoked = _revoke_all(session, user, "password_reset" if "password" in changes else "user_disabled")
    if details:
        user.updated_at = utcnow()
        session.add(user)
        record(session, actor=actor, action=AuditAction.USER_UPDATED, target_type="user", target_id=user.id,
               details={**details, "revoked_sessions": revoked})
    session.flush()
    return user


def revoke_user_sessions(*, session: Session, actor: User, user: User) -> int:
    ensure(actor.role, Permission.USER_MANAGE)
    revoked = _revoke_all(session, user, "revoked_by_admin")
    record(session, actor=actor, action=AuditAction.USER_SESSIONS_REVOKED, target_type="user", target_id=user.id,
           details={"revoked_sessions": revoked})
    session.flush()
    return revoked
