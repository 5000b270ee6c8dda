"""A local RFC 8030 push service for tests, demos and the fan-out benchmark.

The real push services (FCM, Mozilla, Apple, Microsoft) are unreachable here, so this plays both of their
roles: it hands out subscriptions the way a browser does (a P-256 key pair and a 16-byte auth secret each),
and it accepts push messages for them, checking what a real push service checks:

- the VAPID JWT (RFC 8292): ES256 signature with the `k` key, `aud` equal to this service's origin including
  its port, `exp` in the future and within 24 hours, `sub` present; a subscription made with an
  applicationServerKey only accepts that key;
- `TTL` present, `Content-Encoding: aes128gcm`, `Urgency` and `Topic` well formed, body at most 4,096 bytes.

Accepted messages are stored encrypted (as a push service would) and decrypted on read with the
subscription's private key via `http_ece` (an independent RFC 8291 implementation), as the browser would.
A message with a `Topic` replaces the stored one with the same topic (RFC 8030 section 5.4).

It can be told to answer 404/410/429/500 (optionally only N times, or for one subscription) or to be slow.
Use it in-process (`running(service)`) or as `python -m tests.pushservice --port 8090` with a small JSON
control API under `/_control/` (see `__main__.py`).
"""

import asyncio
import base64
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_BODY = 4096
MAX_JWT_LIFETIME = 24 * 3600
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
URGENCIES = {"very-low", "low", "normal", "high"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class Subscription:
    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str | None = None
    messages: list[Received] = field(default_factory=list)

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    def decrypt(self, message: Received) -> dict:
        plaintext = http_ece.decrypt(message.body, private_key=self.private_key, auth_secret=self.auth,
                                     version="aes128gcm")
        return json.loads(plaintext)


@dataclass
class Rule:
    """An answer to give instead of 201: `times` None means until cleared."""

    status: int
    times: int | None = None
    retry_after: str | None = None
    subscription_id: str | None = None
    body: bytes = b""


class PushService:
    def __init__(self) -> None:
        self.origin = ""  # set once bound: scheme://host:port, the `aud` VAPID tokens must carry
        self.subscriptions: dict[str, Subscription] = {}
        self.rules: list[Rule] = []
        self.delay = 0.0
        self.accepted = 0
        self.rejected: list[tuple[int, str]] = []
        self.first_accept_at: float | None = None
        self.last_accept_at: float | None = None
        self.jwt_verifications = 0
        self._verified: dict[str, float] = {}  # token -> exp: a token is checked once, like a real service
        self._lock = threading.Lock()

    # --- the browser's side -------------------------------------------------------------------------------

    def subscribe(self, application_server_key: str | None = None) -> dict:
        """A new subscription; returns what `PushSubscription.toJSON()` gives the page."""
        subscription = Subscription(id=uuid.uuid4().hex, private_key=ec.generate_private_key(ec.SECP256R1()),
                                    auth=os.urandom(16), application_server_key=application_server_key)
        self.subscriptions[subscription.id] = subscription
        return self.to_json(subscription)

    def to_json(self, subscription: Subscription) -> dict:
        return {"endpoint": f"{self.origin}/push/{subscription.id}", "expirationTime": None,
                "keys": {"p256dh": subscription.p256dh, "auth": b64url(subscription.auth)}}

    def by_endpoint(self, endpoint: str) -> Subscription:
        return self.subscriptions[endpoint.rsplit("/", 1)[-1]]

    def inbox(self, endpoint: str) -> list[dict]:
        """Decrypted messages for one subscription, oldest first."""
        subscription = self.by_endpoint(endpoint)
        return [subscription.decrypt(message) for message in list(subscription.messages)]

    def headers_of(self, endpoint: str) -> list[dict[str, str]]:
        return [message.headers for message in self.by_endpoint(endpoint).messages]

    # --- behaviour ------------------------------------------------------------------------------------------

    def answer(self, status: int, *, times: int | None = None, retry_after: str | None = None,
               endpoint: str | None = None, body: bytes = b"") -> None:
        subscription_id = endpoint.rsplit("/", 1)[-1] if endpoint else None
        self.rules.append(Rule(status, times, retry_after, subscription_id, body))

    def reset(self) -> None:
        self.rules.clear()
        self.delay = 0.0

    def _rule_for(self, subscription_id: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.subscription_id in (None, subscription_id):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self.rules.remove(rule)
                    return rule
        return None

    # --- checks ---------------------------------------------------------------------------------------------

    def check_vapid(self, authorization: str, subscription: Subscription) -> tuple[int, str] | None:
        match = re.fullmatch(r"vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)", authorization.strip())
        if not match:
            return 401, "Authorization must be 'vapid t=<jwt>, k=<key>'"
        token, key = match.groups()
        if subscription.application_server_key and key != subscription.application_server_key:
            return 403, "k is not the applicationServerKey this subscription was made with"
        now = time.time()
        exp = self._verified.get(token + key)
        if exp is None:
            problem = self._verify_jwt(token, key, now)
            if problem:
                return problem
            exp = self._verified[token + key]
        if exp <= now:
            return 401, "JWT expired"
        return None

    def _verify_jwt(self, token: str, key: str, now: float) -> tuple[int, str] | None:
        self.jwt_verifications += 1
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(unb64url(header_b64))
            claims = json.loads(unb64url(claims_b64))
            signature = unb64url(signature_b64)
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
        except (ValueError, TypeError):
            return 401, "malformed JWT or key"
        if header.get("alg") != "ES256" or len(signature) != 64:
            return 401, "JWT must be ES256 with a 64-byte r||s signature"
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            public_key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return 403, "JWT signature does not verify with k"
        if claims.get("aud") != self.origin:
            return 403, f"aud {claims.get('aud')!r} is not this push service ({self.origin})"
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now or exp > now + MAX_JWT_LIFETIME:
            return 403, "exp must be in the future and within 24 hours"
        if not isinstance(claims.get("sub"), str) or not claims["sub"].startswith(("mailto:", "https:")):
            return 403, "sub must be a mailto: or https: contact"
        self._verified[token + key] = float(exp)
        return None

    @staticmethod
    def check_headers(headers: dict[str, str], body: bytes) -> tuple[int, str] | None:
        ttl = headers.get("ttl")
        if ttl is None or not ttl.isdigit():
            return 400, "TTL header missing or not a number"
        if headers.get("content-encoding") != "aes128gcm":
            return 415, "Content-Encoding must be aes128gcm"
        if "urgency" in headers and headers["urgency"] not in URGENCIES:
            return 400, "bad Urgency"
        if "topic" in headers and not TOPIC.match(headers["topic"]):
            return 400, "bad Topic"
        if len(body) > MAX_BODY:
            return 413, "body over 4096 bytes"
        if len(body) < 86 + 17:
            return 400, "body too short for an aes128gcm record"
        return None

    # --- ASGI -----------------------------------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY * 4:
                return await _reply(send, 413, b"too large")
            if not message.get("more_body"):
                break
        path, method = scope["path"], scope["method"]
        if path.startswith("/_control/"):
            from tests.pushservice.control import handle

            status, payload = handle(self, method, path, scope.get("query_string", b"").decode(), body)
            return await _reply(send, status, json.dumps(payload).encode(), b"application/json")
        if method != "POST" or not path.startswith("/push/"):
            return await _reply(send, 404, b"no such resource")
        subscription = self.subscriptions.get(path[len("/push/"):])
        if subscription is None:
            return await _reply(send, 404, b"no such subscription")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.delay:
            await asyncio.sleep(self.delay)
        rule = self._rule_for(subscription.id)
        if rule is not None:
            extra = [(b"retry-after", rule.retry_after.encode())] if rule.retry_after else []
            return await _reply(send, rule.status, rule.body, extra=extra)
        problem = self.check_vapid(headers.get("authorization", ""), subscription) or self.check_headers(headers, body)
        if problem:
            self.rejected.append(problem)
            return await _reply(send, problem[0], problem[1].encode())
        now = time.time()
        topic = headers.get("topic")
        if topic:
            subscription.messages[:] = [m for m in subscription.messages if m.headers.get("topic") != topic]
        subscription.messages.append(Received(body, headers, now))
        with self._lock:
            self.accepted += 1
            self.first_accept_at = self.first_accept_at or now
            self.last_accept_at = now
        location = f"/message/{uuid.uuid4().hex}".encode()
        return await _reply(send, 201, b"", extra=[(b"location", location)])


async def _reply(send, status: int, body: bytes, content_type: bytes = b"text/plain", extra=()) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def running(service: PushService | None = None, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[PushService]:
    """Serve `service` with uvicorn in a background thread; `service.origin` is set to its real address."""
    import socket

    import uvicorn

    service = service or PushService()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    service.origin = f"http://{host}:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(service, log_level="warning", access_log=False, lifespan="off",
                                           timeout_keep_alive=30))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield service
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
