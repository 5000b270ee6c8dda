"""Password hashing and tokens. The only module that imports python-jose; no FastAPI here."""

import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from jose import JWTError, jwk, jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import Settings, jwt_secret

JWT_ALGORITHM = "HS256"
_password_hash = PasswordHash((Argon2Hasher(),))
# A dummy hash to verify against when the account does not exist, so both answers take as long.
_DUMMY_HASH = _password_hash.hash("parley-timing-equaliser")
_hash_slots: threading.BoundedSemaphore | None = None


def _slots(settings: Settings) -> threading.BoundedSemaphore:
    """Argon2 is CPU and memory heavy: bound how many hashes run at once across request threads."""
    global _hash_slots
    if _hash_slots is None:
        _hash_slots = threading.BoundedSemaphore(settings.password_hash_threads)
    return _hash_slots


def hash_password(password: str, settings: Settings) -> str:
    with _slots(settings):
        return _password_hash.hash(password)


def verify_password(password: str, password_hash: str | None, settings: Settings) -> bool:
    """Constant work whether or not the account exists (password_hash None)."""
    with _slots(settings):
        if password_hash is None:
            _password_hash.verify(password, _DUMMY_HASH)
            return False
        try:
            return _password_hash.verify(password, password_hash)
        except Exception:  # a malformed stored hash is a failed login, not a crash
            return False


class TokenError(Exception):
    """The token is missing, forged, expired or meant for someone else."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    expires_at: datetime


def create_access_token(
    *, user_id: uuid.UUID, session_id: uuid.UUID, role: str, settings: Settings, now: datetime | None = None
) -> tuple[str, int]:
    now = now or datetime.now(UTC)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "sid": str(session_id),
        "role": role,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()) - 5,
        "exp": int((now + lifetime).timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    token = jwt.encode(claims, jwt_secret(settings), algorithm=JWT_ALGORITHM)
    return token, int(lifetime.total_seconds())


JWT_LEEWAY_SECONDS = 5


def decode_access_token(token: str, settings: Settings, *, now: datetime | None = None) -> AccessClaims:
    """The claims of a valid access token. Every request pays for this, and a phone sends the same token
    for its 15 minutes, so a verified token is remembered (bounded, per secret/audience/issuer); only
    its expiry is checked again."""
    claims = _verified_claims(token, jwt_secret(settings), settings.jwt_audience, settings.jwt_issuer)
    if claims.expires_at.timestamp() < (now or datetime.now(UTC)).timestamp() - JWT_LEEWAY_SECONDS:
        raise TokenError("invalid or expired access token")
    return claims


@lru_cache(maxsize=8192)
def _verified_claims(token: str, secret: str, audience: str, issuer: str) -> AccessClaims:
    # lru_cache keeps only what returns: a forged or malformed token is checked again every time
    try:
        claims = jwt.decode(
            token,
            _verifying_key(secret),
            algorithms=[JWT_ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require_exp": True, "require_iat": True, "require_sub": True, "require_aud": True,
                     "require_iss": True, "leeway": JWT_LEEWAY_SECONDS},
        )
        return AccessClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            session_id=uuid.UUID(str(claims["sid"])),
            role=str(claims["role"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (JWTError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise TokenError("invalid or expired access token") from exc


@lru_cache(maxsize=4)
def _verifying_key(secret: str) -> jwk.Key:
    """The HMAC key object, made once: given the bare secret, python-jose first tries to parse it as a JWK
    (JSON) and builds a new key object for every token it checks."""
    return jwk.construct(secret, JWT_ALGORITHM)


def new_refresh_token(session_id: uuid.UUID) -> str:
    """`<session id>.<secret>`; only a hash of it is stored."""
    return f"{session_id}.{secrets.token_urlsafe(32)}"


def split_refresh_token(token: str) -> uuid.UUID:
    session_part, _, secret = token.partition(".")
    if not secret:
        raise TokenError("malformed refresh token")
    try:
        return uuid.UUID(session_part)
    except ValueError as exc:
        raise TokenError("malformed refresh token") from exc


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
