"""Encrypt (RFC 8291, via `webpush`) and POST (RFC 8030) push messages over one shared httpx.AsyncClient.

`webpush` is used for the payload encryption only. Its own request building is not used: it drops a
non-default port from the VAPID `aud`, defaults TTL to 0, signs a new JWT per message, keeps per-call options
on the instance and has no Urgency/Topic or size check. Headers and the VAPID JWT are ours (vapid.py).
"""

import asyncio
import email.utils
import importlib.util
import sys
import time
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives import serialization
from webpush import WebPush
from webpush.types import WebPushSubscription

from app.notifications.payload import MAX_PLAINTEXT_BYTES
from app.notifications.transport import PushTransport
from app.notifications.vapid import VapidSigner

# httpcore looks for `sniffio` each time it makes a lock (several per request). When sniffio is not installed
# every request pays for a failed import that walks sys.path: measured here as about half the CPU time of a
# push. Recording the miss once makes the same failed import instant; nothing else changes.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

MAX_RESPONSE_BYTES = 64 * 1024  # a push service answering with megabytes of garbage is cut off here
MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class Outcome:
    kind: str  # sent | gone | retry | failed
    status_code: int | None = None
    retry_after: float | None = None  # seconds the push service asked us to wait (429, 503)
    error: str | None = None


@dataclass(frozen=True)
class PushMessage:
    endpoint: str
    p256dh: str
    auth: str
    plaintext: bytes
    ttl: int
    urgency: str
    topic: str | None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After as delta-seconds or an HTTP-date (RFC 9110 section 10.2.3); None if absent or nonsense."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return min(max(delta, 0.0), MAX_RETRY_AFTER_SECONDS)


def classify(status: int, headers: httpx.Headers | dict) -> Outcome:
    if 200 <= status < 300:
        return Outcome("sent", status)
    if status in (404, 410):
        return Outcome("gone", status, error="subscription expired or unsubscribed")
    if status == 429:
        return Outcome("retry", status, retry_after=parse_retry_after(headers.get("retry-after")),
                       error="rate limited by the push service")
    if status >= 500:
        return Outcome("retry", status, retry_after=parse_retry_after(headers.get("retry-after")),
                       error=f"push service error {status}")
    if status == 413:
        return Outcome("failed", status, error="payload too large for the push service")
    if status in (401, 403):
        return Outcome("failed", status, error="push service refused our VAPID credentials")
    return Outcome("failed", status, error=f"push service answered {status}")


class PushSender:
    """One per dispatcher process: the shared client, the concurrency bound and the VAPID signer."""

    def __init__(self, signer: VapidSigner, *, concurrency: int = 32, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.signer = signer
        self.timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)
        # the semaphore bounds requests in flight (and so connections per origin); PushTransport keeps the
        # idle keep-alive connections (see transport.py for why not httpcore's pool)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,  # a redirect could point anywhere: never follow one
            transport=transport or PushTransport(max_idle_per_origin=max(concurrency, 8)),
        )
        private_pem = signer.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption())
        public_pem = signer.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
        self._webpush = WebPush(private_key=private_pem, public_key=public_pem)

    async def aclose(self) -> None:
        await self.client.aclose()

    def encrypt(self, message: PushMessage) -> bytes:
        """RFC 8291 aes128gcm body (one record). Plaintext over 3,993 bytes would not fit one record."""
        if len(message.plaintext) > MAX_PLAINTEXT_BYTES:
            raise ValueError(f"push plaintext is {len(message.plaintext)} bytes; at most {MAX_PLAINTEXT_BYTES}")
        subscription = WebPushSubscription(endpoint=message.endpoint,
                                           keys={"p256dh": message.p256dh, "auth": message.auth})
        return self._webpush._encrypt(message.plaintext, subscription)

    def headers(self, message: PushMessage) -> dict[str, str]:
        headers = {
            "TTL": str(max(0, int(message.ttl))),
            "Urgency": message.urgency,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self.signer.authorization(message.endpoint),
        }
        if message.topic:
            headers["Topic"] = message.topic
        return headers

    async def post(self, endpoint: str, body: bytes, headers: dict[str, str]) -> Outcome:
        """Never raises: every failure becomes an Outcome the dispatcher records."""
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout * 2):  # a server dribbling bytes is cut off too
                    async with self.client.stream("POST", endpoint, content=body, headers=headers) as response:
                        received = 0
                        async for chunk in response.aiter_raw():
                            received += len(chunk)
                            if received > MAX_RESPONSE_BYTES:
                                break
                        return classify(response.status_code, response.headers)
            except (TimeoutError, httpx.TimeoutException):
                return Outcome("retry", error="push service timed out")
            except httpx.TransportError as exc:
                return Outcome("retry", error=f"network error: {type(exc).__name__}")
            except httpx.HTTPError as exc:
                return Outcome("failed", error=f"bad response: {type(exc).__name__}")
