"""The AppError family and the one handler that renders RFC 9457 problem+json."""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, headers=None,
                 keep_changes: bool = False):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        # True for refusals that must still be recorded (a failed sign-in, a replayed refresh token):
        # the request's transaction commits what it wrote, then the error is answered.
        self.keep_changes = keep_changes


class NotAuthenticated(AppError):
    status, title, type_slug = 401, "Not authenticated", "not-authenticated"


class Forbidden(AppError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class NotFound(AppError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(AppError):
    status, title, type_slug = 409, "Conflict", "conflict"


class InvalidTransition(Conflict):
    title, type_slug = "Invalid transition", "invalid-transition"


class Gone(AppError):
    status, title, type_slug = 410, "Gone", "gone"


class PayloadTooLarge(AppError):
    status, title, type_slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(AppError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"


class Invalid(AppError):
    """A well-formed request that breaks a rule (a slot value, an audience that is not in the op)."""

    status, title, type_slug = 422, "Invalid input", "invalid-input"


class RateLimited(AppError):
    status, title, type_slug = 429, "Too many requests", "rate-limited"

    def __init__(self, detail: str, *, retry_after: int, keep_changes: bool = False):
        super().__init__(detail, headers={"Retry-After": str(max(1, int(retry_after)))}, keep_changes=keep_changes)


def problem(status: int, title: str, detail: str, *, type_slug: str | None = None, **extra) -> JSONResponse:
    body = {
        "type": f"https://parley.invalid/problems/{type_slug or title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _clean_validation_errors(errors) -> list[dict[str, Any]]:
    cleaned = []
    for error in errors:
        cleaned.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
        )
    return cleaned


def _unique_violation(exc: IntegrityError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, exc: AppError):
        response = problem(exc.status, exc.title, exc.detail, type_slug=exc.type_slug, errors=exc.errors)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError):
        errors = _clean_validation_errors(exc.errors())
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(p for p in first["loc"] if p not in ("body", "query", "path"))
        detail = f"{where}: {first['msg']}" if where else first["msg"]
        return problem(422, "Invalid input", detail, type_slug="invalid-input", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException):
        titles = {404: "Not found", 405: "Method not allowed", 401: "Not authenticated"}
        title = titles.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        response = problem(exc.status_code, title, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(DataError)
    async def _data_error(_request: Request, _exc: DataError):
        # a value the engine cannot store (e.g. NUL on PostgreSQL) that no schema caught: the transaction has
        # rolled back, so nothing changed; the client sent it, so it is a 422, not a 500
        return problem(422, "Invalid input", "The request contains a value that cannot be stored "
                       "(for example a NUL or other control character).", type_slug="invalid-input")

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError):
        # services check every rule before they write, so a unique index can only refuse a row when a concurrent
        # request wrote the same thing at the same moment (on PostgreSQL some writes go with the COMMIT, where
        # the clash shows): the transaction rolled back, nothing was saved. Any other constraint is a bug: 500.
        if not _unique_violation(exc):
            return await _unexpected(request, exc)
        structlog.get_logger("parley").warning("write_conflict", method=request.method, path=request.url.path,
                                               error=repr(exc.orig))
        return problem(409, "Conflict", "Another request changed the same thing at the same moment; nothing was "
                       "saved. Send it again.", type_slug="conflict")

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError):
        if not (exc.connection_invalidated or isinstance(exc, OperationalError)):
            return await _unexpected(request, exc)
        # the database restarted (the pool is renewed: the next request gets a new connection), is down, or
        # stayed locked past the busy timeout: the transaction rolled back, nothing was saved; the PWA's
        # outbox retries
        structlog.get_logger("parley").warning("database_unavailable", method=request.method,
                                               path=request.url.path, error=repr(exc.orig))
        response = problem(503, "Database unavailable", "The database could not be reached; nothing was saved. "
                           "Try again.", type_slug="database-unavailable")
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        structlog.get_logger("parley").error("unhandled_error", method=request.method, path=request.url.path,
                                             error=repr(exc), exc_info=exc)
        return problem(500, "Internal error", "The server could not complete the request.")
