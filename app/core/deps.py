"""Dependency aliases every router uses: the session, the settings, the signed-in caller."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.auth.models import AuthSession, User
from app.core.config import Settings, get_settings
from app.core.db import get_session
from app.core.errors import NotAuthenticated
from app.core.security import TokenError, decode_access_token
from app.core.types import utcnow

# scope="function": the session commits before the response is sent, so a 2xx answer is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
_bearer = HTTPBearer(auto_error=False, description="The access token from /api/v1/auth/login")
LAST_SEEN_RESOLUTION = timedelta(seconds=60)


@dataclass
class Principal:
    user: User
    auth_session: AuthSession


def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Checks the token *and* its session on every request, so a revoked phone is cut off at once."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("Sign in first.", headers={"WWW-Authenticate": "Bearer"})
    try:
        claims = decode_access_token(credentials.credentials, settings)
    except TokenError as exc:
        raise NotAuthenticated("Your sign-in has expired or is not valid.",
                               headers={"WWW-Authenticate": "Bearer"}) from exc
    auth_session = session.get(AuthSession, claims.session_id)
    user = session.get(User, claims.user_id)
    if auth_session is None or user is None or auth_session.user_id != user.id:
        raise NotAuthenticated("Your session has ended. Sign in again.")
    if auth_session.revoked_at is not None:
        raise NotAuthenticated("Your session has ended. Sign in again.")
    if not user.active:
        raise NotAuthenticated("This account is disabled.")
    now = utcnow()
    if now - auth_session.last_seen_at > timedelta(hours=settings.session_idle_hours):
        raise NotAuthenticated("Your session expired after a period without use. Sign in again.")
    if now - auth_session.last_seen_at > LAST_SEEN_RESOLUTION:
        auth_session.last_seen_at = now
        session.add(auth_session)
    return Principal(user=user, auth_session=auth_session)


def get_current_user(principal: Annotated[Principal, Depends(get_principal)]) -> User:
    return principal.user


PrincipalDep = Annotated[Principal, Depends(get_principal)]
CurrentUser = Annotated[User, Depends(get_current_user)]
