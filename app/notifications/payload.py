"""What a phone receives: the JSON inside the encrypted push message, and the receipt token in it.

The plaintext is at most 3,993 bytes: a 4,096-byte aes128gcm record minus its 86-byte header, 16-byte tag
and 1 padding delimiter (RFC 8291 section 4). A longer body is cut to fit; the inbox keeps the full text.
"""

import hashlib
import hmac
import json
import uuid

from app.core.config import Settings
from app.core.types import iso
from app.notifications.vapid import b64url, b64url_decode, private_key_text

MAX_PLAINTEXT_BYTES = 3993
GENERIC_TITLE = "Parley: new message"
GENERIC_BODY = "Open Parley to read it."


class PayloadTooLarge(ValueError):
    """Even an empty body does not fit (cannot happen with schema-valid titles and urls)."""


def receipt_key(settings: Settings) -> bytes:
    """The HMAC key for receipt tokens, derived from the VAPID private key: every app instance and worker
    already shares that key, so no second secret has to be copied between hosts."""
    return hmac.new(private_key_text(settings).strip().encode(), b"parley push receipt tokens v1",
                    hashlib.sha256).digest()


def receipt_token(key: bytes, notification_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """`<user id hex>.<HMAC-SHA256(notification id, user id)>`: lets the service worker report receipts for
    this one message and this one recipient without a session. It does not expire (a phone may come back
    online days later, within the TTL); it proves nothing beyond "this recipient got this message"."""
    mac = hmac.new(key, f"{notification_id}:{user_id}".encode(), hashlib.sha256).digest()
    return f"{user_id.hex}.{b64url(mac)}"


def user_of_receipt_token(key: bytes, notification_id: uuid.UUID, token: str) -> uuid.UUID | None:
    user_hex, _, mac_text = token.partition(".")
    try:
        user_id = uuid.UUID(hex=user_hex)
        mac = b64url_decode(mac_text)
    except ValueError:
        return None
    expected = hmac.new(key, f"{notification_id}:{user_id}".encode(), hashlib.sha256).digest()
    return user_id if hmac.compare_digest(mac, expected) else None


def _encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _cut(text: str, limit: int) -> str:
    """The first `limit` UTF-8 bytes of text, never splitting a character, with an ellipsis if cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: max(0, limit - 3)].decode("utf-8", errors="ignore").rstrip() + "…"


def build_payload(
    *, notification, exercise: bool, user_id: uuid.UUID, round: int, token: str, public_url: str
) -> bytes:
    """The decrypted push message (API.md), with the Declarative Web Push members (`web_push: 8030`) so
    Safari (iOS 18.4+) can show it even without the service worker; `mutable` lets ours take over."""
    title = GENERIC_TITLE if notification.sensitive else notification.title
    body = GENERIC_BODY if notification.sensitive else notification.body
    if exercise:
        title = f"EXERCISE: {title}"
    path = f"/#/notifications/{notification.id}"
    if notification.url and not notification.sensitive:
        path = notification.url
    navigate = public_url.rstrip("/") + path

    def compose(text: str, truncated: bool) -> dict:
        return {
            "type": "notification",
            "id": str(notification.id),
            "operation_id": str(notification.operation_id),
            "kind": notification.kind,
            "title": title,
            "body": text,
            "urgency": notification.urgency,
            "require_ack": notification.require_ack,
            "url": path,
            "sensitive": notification.sensitive,
            "truncated": truncated,
            "exercise": exercise,
            "round": round,  # 1 = the re-send at the ack deadline: show it again even if round 0 was seen
            "sent_at": iso(notification.created_at),
            "receipt_url": f"/api/v1/notifications/{notification.id}/receipts",
            "receipt_token": token,
            "web_push": 8030,
            "notification": {
                "title": title,
                "body": text,
                "navigate": navigate,
                "tag": notification.topic or str(notification.id),
                "require_interaction": notification.require_ack,
                "lang": "en",
            },
            "mutable": True,
        }

    encoded = _encode(compose(body, False))
    if len(encoded) <= MAX_PLAINTEXT_BYTES:
        return encoded
    # the body appears twice; give each copy half of what is left after everything else
    spare = MAX_PLAINTEXT_BYTES - len(_encode(compose("", True)))
    if spare < 0:
        raise PayloadTooLarge("push payload does not fit even without a body")
    limit = spare // 2
    while limit >= 0:
        encoded = _encode(compose(_cut(body, limit), True))
        if len(encoded) <= MAX_PLAINTEXT_BYTES:
            return encoded
        limit -= max(1, (len(encoded) - MAX_PLAINTEXT_BYTES) // 2)  # JSON escaping can grow the text
    raise PayloadTooLarge("push payload does not fit")
