"""Strict headers on every response: no inline script, no framing, no sniffing."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(self), geolocation=(self), microphone=()"),
]
_DOCS = ("/docs", "/redoc")


_API_HEADERS = [*HEADERS, (b"cache-control", b"no-store")]


def extra_response_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers a response to `path` gets unless it sets them itself (the API docs pages load their own
    scripts and styles: they keep theirs)."""
    if path.startswith(_DOCS):
        return []
    return _API_HEADERS if path.startswith("/api/") else HEADERS


def merge_headers(existing, extra: list[tuple[bytes, bytes]]) -> list:
    names = {name.lower() for name, _ in existing}
    return [*existing, *((name, value) for name, value in extra if name not in names)]
