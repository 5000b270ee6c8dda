"""Dependency aliases every router uses: the session, the settings, the signed-in caller."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.auth.models import AuthSession, User
from app.core.config import Settings, get_settings
from app.core.db import HotQuery, detached, get_session, reading, split_row
from app.core.errors import NotAuthenticated
from app.core.security import AccessClaims, TokenError, decode_access_token
from app.core.types import utcnow

# scope="function": the session commits before the response is sent, so a 2xx answer is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def _settings() -> Settings:
    # async: FastAPI would run a plain function in a worker thread, a hop per request for a cached value
    return get_settings()


SettingsDep = Annotated[Settings, Depends(_settings)]
_bearer = HTTPBearer(auto_error=False, description="The access token from /api/v1/auth/login")
LAST_SEEN_RESOLUTION = timedelta(seconds=60)


# Every request runs it: built once (building a statement costs more than running it on SQLite), one round trip,
# plain columns (the ORM's loading of two entities cost more than the query).
_PRINCIPAL = HotQuery(select(*AuthSession.__table__.c, *User.__table__.c).join_from(
    AuthSession.__table__, User.__table__, User.__table__.c.id == AuthSession.__table__.c.user_id
).where(AuthSession.__table__.c.id == bindparam("session_id"), AuthSession.__table__.c.user_id == bindparam("user_id")))
_TOUCH = update(AuthSession.__table__).where(AuthSession.__table__.c.id == bindparam("session_id")).values(
    last_seen_at=bindparam("now"))


@dataclass
class Principal:
    user: User
    auth_session: AuthSession


def check_principal(
    session: Session, settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The sign-in check outside the request dependencies (the live stream's connect, receipts)."""
    return _principal_now(session, settings, _claims(credentials, settings))


def _principal_now(session: Session, settings: Settings, claims: AccessClaims) -> Principal:
    principal, stale = _load_principal(session, settings, claims)
    if stale:
        _touch(session, principal)
    return principal


async def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Checks the token *and* its session on every request, so a revoked phone is cut off at once."""
    return await _checked_principal(session, settings, _claims(credentials, settings))


async def _checked_principal(session: Session, settings: Settings, claims: AccessClaims) -> Principal:
    if session.get_bind().dialect.name != "sqlite":
        principal, stale = await run_in_threadpool(_load_principal, session, settings, claims)
    else:
        # On SQLite in WAL mode this read neither waits for writers nor holds them up, and takes a fraction
        # of a millisecond: done here, it saves every request a worker-thread hop. Writing waits its turn,
        # so the once-a-minute touch goes to a thread.
        principal, stale = _load_principal(session, settings, claims)
    if stale:
        await run_in_threadpool(_touch, session, principal)
    return principal


def _claims(credentials: HTTPAuthorizationCredentials | None, settings: Settings) -> AccessClaims:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("Sign in first.", headers={"WWW-Authenticate": "Bearer"})
    try:
        return decode_access_token(credentials.credentials, settings)
    except TokenError as exc:
        raise NotAuthenticated("Your sign-in has expired or is not valid.",
                               headers={"WWW-Authenticate": "Bearer"}) from exc


def _load_principal(session: Session, settings: Settings, claims: AccessClaims) -> tuple[Principal, bool]:
    """(the caller, whether their session's last_seen_at is due an update). On SQLite, in a fresh session,
    the check is a reader's transaction of its own (see `reading`): a writer's would wait its turn and hold
    the lock while the endpoint waits for a thread. The user and session come back detached."""
    with reading(session) as connection:
        row = _PRINCIPAL.first(connection, _principal_params(claims))
    return _principal_from(row, settings)


def _principal_params(claims: AccessClaims) -> dict:
    return {"session_id": claims.session_id, "user_id": claims.user_id}


def _principal_from(row: tuple | None, settings: Settings) -> tuple[Principal, bool]:
    if row is None:
        raise NotAuthenticated("Your session has ended. Sign in again.")
    session_values, user_values = split_row(row, AuthSession, User)
    auth_session, user = detached(AuthSession, session_values), detached(User, user_values)
    if auth_session.revoked_at is not None:
        raise NotAuthenticated("Your session has ended. Sign in again.")
    if not user.active:
        raise NotAuthenticated("This account is disabled.")
    idle = utcnow() - auth_session.last_seen_at
    if idle > timedelta(hours=settings.session_idle_hours):
        raise NotAuthenticated("Your session expired after a period without use. Sign in again.")
    return Principal(user=user, auth_session=auth_session), idle > LAST_SEEN_RESOLUTION


def _touch(session: Session, principal: Principal) -> None:
    """last_seen_at, at most once a minute per phone; on SQLite a short write of its own (when the session
    has nothing else open: otherwise it goes with the caller's commit)."""
    own_write = session.get_bind().dialect.name == "sqlite" and not session.in_transaction()
    now = utcnow()
    session.execute(_TOUCH, {"session_id": principal.auth_session.id, "now": now})
    set_committed_value(principal.auth_session, "last_seen_at", now)
    if own_write:
        session.commit()


async def get_current_user(principal: Annotated[Principal, Depends(get_principal)]) -> User:
    return principal.user


PrincipalDep = Annotated[Principal, Depends(get_principal)]
CurrentUser = Annotated[User, Depends(get_current_user)]


@dataclass
class SignInCheck:
    """The session half of the sign-in check, left to the endpoint's worker thread (see `SignedInUser`)."""

    session: Session
    settings: Settings
    claims: AccessClaims

    def user(self) -> User:
        return _principal_now(self.session, self.settings, self.claims).user

    @property
    def id(self) -> uuid.UUID:
        """The caller's user id as the token gives it: enough to build reads, never to trust before `user_from`."""
        return self.claims.user_id

    def user_from(self, rows: list[tuple]) -> User:
        """The check made on its statement's rows, read together with the endpoint's first reads."""
        principal, stale = _principal_from(rows[0] if rows else None, self.settings)
        if stale:
            _touch(self.session, principal)
        return principal.user


def sign_in_read(caller: User | SignInCheck) -> list[tuple[HotQuery, dict]]:
    """The sign-in check's read, for an endpoint that sends it with its own first reads (`together`): none for a
    caller already checked."""
    return [(_PRINCIPAL, _principal_params(caller.claims))] if isinstance(caller, SignInCheck) else []


def signed_in(caller: User | SignInCheck, rows: list[list[tuple]]) -> User:
    """The caller, checked on what `sign_in_read` read (401, nothing revealed): before any rows read with it are
    used."""
    return caller.user_from(rows[0]) if isinstance(caller, SignInCheck) else caller


async def signed_in_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User | SignInCheck:
    """The same check as `CurrentUser`, for the hot sync endpoint (render): the token is checked here;
    on PostgreSQL its session row is then read in the endpoint's own worker thread (`TransactionRoute` runs the
    check just before the endpoint), which saves each request a thread hop of its own, and on SQLite here, on
    the event loop, as `get_principal` does. A revoked session is still refused before the endpoint runs; only
    a body error is then reported first (422 before 401)."""
    claims = _claims(credentials, settings)
    if session.get_bind().dialect.name != "sqlite":
        return SignInCheck(session, settings, claims)
    return (await _checked_principal(session, settings, claims)).user


# Only for a sync endpoint of a TransactionRoute that takes the session (SessionDep) and is the user's only
# consumer: the route turns the check into the User before the endpoint runs, and refuses any other endpoint.
SignedInUser = Annotated[User, Depends(signed_in_user)]


async def signed_in_token(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AccessClaims:
    """The token half of the sign-in check alone (401 for a missing, expired or forged token), for the report:
    the intake makes the session half in the transaction that records the report (`SignInCheck`, `sign_in_read`),
    so no database session is held while a report waits for its turn."""
    return _claims(credentials, settings)


SignInToken = Annotated[AccessClaims, Depends(signed_in_token)]
