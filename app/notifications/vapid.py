"""VAPID (RFC 8292): the server's P-256 key and the JWT that identifies it to push services.

The JWT is built by hand (base64url header and claims, raw r||s ES256 signature) and signed once per
push-service origin, then reused until shortly before it expires: a fan-out to 15,000 phones on a few
push services signs a handful of tokens, not 15,000.
"""

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from app.core.config import Settings, read_or_create_secret

KEY_FILE = "vapid.key"
TOKEN_LIFETIME_SECONDS = 12 * 3600  # RFC 8292: at most 24 h; push services commonly reject longer
RENEW_BEFORE_SECONDS = 15 * 60  # a token is replaced well before it expires (clock skew, slow requests)
DEFAULT_PORTS = {"https": 443, "http": 80}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url (padding optional); raises ValueError on anything else."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


def generate_private_key_text() -> str:
    """A new key as base64url of the raw 32-byte private scalar (the usual VAPID key format)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """Accepts the raw base64url scalar or a PEM (PKCS#8 or SEC1)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the VAPID key must be a P-256 (prime256v1) key")
        return key
    raw = b64url_decode(text)
    if len(raw) != 32:
        raise ValueError("a raw VAPID private key is 32 bytes, base64url")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def private_key_text(settings: Settings) -> str:
    """The configured key, else the one in the data directory (made with 0600 on first start)."""
    return settings.vapid_private_key or read_or_create_secret(settings, KEY_FILE, generate_private_key_text)


def ensure_vapid_key(settings: Settings) -> None:
    """KEY_MAKER: generate the key on first start, and refuse to start with an unusable configured key."""
    load_private_key(private_key_text(settings))


def public_key_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def key_id(public_key: bytes) -> str:
    """A short fingerprint stored with each subscription: which server key the browser subscribed with."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def origin_of(endpoint: str) -> str:
    """RFC 6454 ASCII origin: scheme://host, plus the port only when it is not the scheme's default.
    RFC 8292 wants `aud` to be exactly this (a local push service on :8443 is a different origin)."""
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def sign_jwt(key: ec.EllipticCurvePrivateKey, claims: dict) -> str:
    header = b64url(json.dumps({"typ": "JWT", "alg": "ES256"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return f"{header}.{payload}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@dataclass
class VapidSigner:
    """Holds the key; hands out `Authorization: vapid t=..., k=...` per origin, cached until near expiry."""

    key: ec.EllipticCurvePrivateKey
    subject: str
    public_key: bytes = b""
    _cache: dict[str, tuple[str, float]] = field(default_factory=dict)
    signed: int = 0  # how many JWTs were made (the bench and tests look at it)

    def __post_init__(self) -> None:
        self.public_key = public_key_bytes(self.key)
        self.public_key_b64 = b64url(self.public_key)
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> "VapidSigner":
        """Loaded once per dispatcher: a rotated key takes effect when the process restarts."""
        return cls(key=load_private_key(private_key_text(settings)), subject=settings.vapid_subject)

    def authorization(self, endpoint: str, *, now: float | None = None) -> str:
        now = time.time() if now is None else now
        origin = origin_of(endpoint)
        cached = self._cache.get(origin)
        if cached is None or cached[1] - now < RENEW_BEFORE_SECONDS:
            expires = int(now) + TOKEN_LIFETIME_SECONDS
            token = sign_jwt(self.key, {"aud": origin, "exp": expires, "sub": self.subject})
            self.signed += 1
            cached = (f"vapid t={token}, k={self.public_key_b64}", float(expires))
            self._cache[origin] = cached
        return cached[0]


@lru_cache(maxsize=4)
def _public_key_of(text: str) -> bytes:
    return public_key_bytes(load_private_key(text))


def public_key_b64(settings: Settings) -> str:
    return b64url(_public_key_of(private_key_text(settings)))


@dataclass
class Rotation:
    old_key_id: str | None
    new_public_key: str
    new_key_id: str
    kept_old_key_at: Path | None


def rotate(settings: Settings) -> Rotation:
    """A new key pair in the data directory; the old key file is kept (0600) beside it for the record.

    Subscriptions are bound to the key the browser subscribed with, so after the app and workers restart:
    a push to an old subscription is refused by its push service (401/403) and the dispatcher removes that
    subscription; the app, which compares GET /push/vapid-public-key with its subscription's
    applicationServerKey on every start, unsubscribes and subscribes again with the new key."""
    if settings.vapid_private_key:
        raise ValueError("The VAPID key comes from PARLEY_VAPID_PRIVATE_KEY: put a new key there "
                         "(`parley vapid rotate` cannot change your configuration).")
    path = key_path(settings)
    old_id, kept = None, None
    if path.exists():
        old_id = key_id(_public_key_of(path.read_text().strip()))
        kept = path.with_name(f"{KEY_FILE}.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.old")
        os.replace(path, kept)
    new_text = generate_private_key_text()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(new_text + "\n")
    public = _public_key_of(new_text)
    return Rotation(old_key_id=old_id, new_public_key=b64url(public), new_key_id=key_id(public), kept_old_key_at=kept)
