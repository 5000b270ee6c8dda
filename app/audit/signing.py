"""The server's Ed25519 audit key: it signs export manifests and chain checkpoints.

Configured with `PARLEY_AUDIT_SIGNING_KEY` (base64url of the 32-byte private seed, or a PEM PKCS#8
key), else generated on first start into `<data_dir>/audit-signing.key` with 0600 permissions. The
public half is published at `GET /api/v1/audit/public-key` and by `parley audit public-key`, so an
auditor can get it out of band and verify exports without trusting the server that made them.
"""

from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.audit.chain import canonical
from app.audit.offline import b64url, b64url_decode, key_id
from app.core.config import Settings, read_or_create_secret

KEY_FILE = "audit-signing.key"


def _new_seed() -> str:
    key = Ed25519PrivateKey.generate()
    return b64url(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption()))


def _load(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("PARLEY_AUDIT_SIGNING_KEY is not an Ed25519 key")
        return key
    seed = b64url_decode(text)
    if len(seed) != 32:
        raise ValueError("PARLEY_AUDIT_SIGNING_KEY must be 32 bytes (base64url) or a PEM Ed25519 key")
    return Ed25519PrivateKey.from_private_bytes(seed)


@lru_cache(maxsize=8)
def _key_from(text: str) -> Ed25519PrivateKey:
    return _load(text)


def private_key(settings: Settings) -> Ed25519PrivateKey:
    """The signing key; made on first use when none is configured (also a `lifecycle.KEY_MAKERS` entry)."""
    return _key_from(settings.audit_signing_key or read_or_create_secret(settings, KEY_FILE, _new_seed))


def public_key_bytes(settings: Settings) -> bytes:
    return private_key(settings).public_key().public_bytes(serialization.Encoding.Raw,
                                                           serialization.PublicFormat.Raw)


def public_key_b64(settings: Settings) -> str:
    return b64url(public_key_bytes(settings))


def current_key_id(settings: Settings) -> str:
    return key_id(public_key_bytes(settings))


def sign(settings: Settings, document: dict) -> dict:
    """`document` plus `signature`: base64url Ed25519 over the canonical JSON of the rest."""
    unsigned = {name: value for name, value in document.items() if name != "signature"}
    return {**unsigned, "signature": b64url(private_key(settings).sign(canonical(unsigned)))}


def public_key_info(*, actor, settings: Settings):
    """`GET /audit/public-key`, for auditors (API.md). The key is public; administrators hand it out of band
    with `parley audit public-key`."""
    from app.audit.schemas import PublicKeyOut
    from app.core.permissions import Permission, ensure

    ensure(actor.role, Permission.AUDIT_EXPORT)
    return PublicKeyOut(public_key=public_key_b64(settings), key_id=current_key_id(settings))
