"""Structured JSON logs, request ids, Prometheus metrics, the request size limit and the security headers
(one pure ASGI middleware)."""

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
from app.core.security_headers import extra_response_headers, merge_headers

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


class EdgeMiddleware:
    """Everything every HTTP request gets, in one layer (each layer wraps send and costs every request):
    a request id (echoed as X-Request-ID), the client address for the audit log, metrics and the access log,
    413 for bodies over the limit (whether announced by Content-Length or streamed), and the strict security
    headers (`security_headers`)."""

    def __init__(self, app, *, max_bytes: int, upload_max_bytes: int):
        self.app, self.max_bytes, self.upload_max_bytes = app, max_bytes, upload_max_bytes

    def _limit(self, path: str) -> int:
        return self.upload_max_bytes + 64 * 1024 if path.endswith("/attachments") else self.max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        client = scope.get("client")
        ip_token = client_ip.set(client[0] if client else None)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        extra_headers = [(b"x-request-id", request_id.encode()), *extra_response_headers(path)]

        async def edge_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = merge_headers(message.get("headers", []), extra_headers)
            await send(message)

        limit = self._limit(path)
        declared = headers.get(b"content-length")
        try:
            if declared is not None:
                if not declared.isdigit() or int(declared) > limit:
                    return await _too_large(edge_send, limit)
                # the server reads no more than the declared length: nothing to count
                await self.app(scope, receive, edge_send)
            else:
                await self._counting(scope, receive, edge_send, limit)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info("request", method=scope["method"], route=route, path=path, status=status,
                     ms=round(elapsed * 1000, 1))
            structlog.contextvars.clear_contextvars()
            client_ip.reset(ip_token)

    async def _counting(self, scope, receive, send, limit: int) -> None:
        """A body without a declared length (chunked): counted as it arrives."""
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
