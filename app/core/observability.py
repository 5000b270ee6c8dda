"""Structured JSON logs, request ids, Prometheus metrics and the request size limit (pure ASGI)."""

import json
import logging
import re
import sys
import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.audit.writer import client_ip
from app.core.errors import PROBLEM_JSON

REQUESTS = Counter("parley_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "parley_http_request_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_SECRET_KEYS = {"password", "access_token", "refresh_token", "authorization", "token", "auth", "p256dh"}


def _drop_secrets(_logger, _name, event_dict):
    for key in list(event_dict):
        if key.lower() in _SECRET_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )


log = structlog.get_logger("parley")


def _route_template(scope) -> str:
    """The matched route with its parameters named (`/api/v1/operations/{operation_id}`): bounded labels."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    if not hasattr(route, "endpoint") or not scope["path"].startswith(("/api/", "/healthz", "/readyz", "/metrics")):
        return "static"
    template = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        template = template.replace(f"/{value}", f"/{{{name}}}", 1)
    return template


class RequestContextMiddleware:
    """Request id (echoed as X-Request-ID), client address for the audit log, metrics, access log."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        client = scope.get("client")
        ip_token = client_ip.set(client[0] if client else None)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            REQUESTS.labels(scope["method"], route, str(status["code"])).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info("request", method=scope["method"], route=route, path=scope["path"],
                     status=status["code"], ms=round(elapsed * 1000, 1))
            structlog.contextvars.clear_contextvars()
            client_ip.reset(ip_token)


class BodySizeLimitMiddleware:
    """413 for bodies over the limit, whether announced by Content-Length or streamed."""

    def __init__(self, app, *, max_bytes: int, upload_max_bytes: int):
        self.app, self.max_bytes, self.upload_max_bytes = app, max_bytes, upload_max_bytes

    def _limit(self, path: str) -> int:
        return self.upload_max_bytes + 64 * 1024 if path.endswith("/attachments") else self.max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self._limit(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _too_large(send, limit)
        received = 0
        sent_start = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(413, f"The request body is larger than {limit} bytes.")
            return message

        async def tracking_send(message):
            nonlocal sent_start
            if message["type"] == "http.response.start":
                sent_start = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not sent_start:
                await _too_large(send, limit)


class _TooLarge(StarletteHTTPException):
    """Raised from receive(); an HTTPException so FastAPI's body parsing passes it through as 413."""


async def _too_large(send, limit: int) -> None:
    body = json.dumps({
        "type": "https://parley.invalid/problems/payload-too-large", "title": "Payload too large",
        "status": 413, "detail": f"The request body is larger than {limit} bytes.",
    }).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
