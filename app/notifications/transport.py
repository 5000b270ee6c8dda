"""A lean HTTP/1.1 transport for the shared httpx.AsyncClient that sends push messages.

Why: a fan-out is thousands of small POSTs to a handful of push-service origins. httpcore (httpx's default
transport) spends about 0.5-0.7 ms of CPU per request here, most of it scanning its connection pool and in
anyio's socket layer, and its cost grows with the number of connections; that alone put 15,000 messages past
ten seconds. This transport keeps one deque of idle keep-alive connections per origin (O(1) to take and give
back), writes each request in one call and parses responses with httptools (the parser uvicorn uses). It does
only what push needs: a request with a bytes body, a small response. TLS uses the system's default verification
(certifi's bundle when present, as httpx does). Timeouts come from the client's `timeout` as usual.
"""

import asyncio
import ssl
from collections import defaultdict, deque

import httptools
import httpx

try:
    import certifi
except ImportError:  # pragma: no cover - httpx depends on certifi
    certifi = None


class _Parsed:
    """httptools callbacks: collects one response."""

    def __init__(self, limit: int) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.limit = limit
        self.complete = False
        self.truncated = False
        self.parser: httptools.HttpResponseParser | None = None
        self.status = 0
        self.keep_alive = False

    def on_headers_complete(self) -> None:
        # read here: once the message is complete the parser has reset for the next one
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        if len(self.body) < self.limit:
            self.body += body[: self.limit - len(self.body)]
        else:
            self.truncated = True

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, data: bytes, limit: int) -> tuple[int, _Parsed, bool]:
        self.writer.write(data)
        await self.writer.drain()
        parsed = _Parsed(limit)
        parser = parsed.parser = httptools.HttpResponseParser(parsed)
        received = False
        while not parsed.complete:
            chunk = await self.reader.read(65536)
            if not chunk:
                if not received:
                    raise _StaleConnection()
                framed = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in parsed.headers)
                if not parsed.status or framed:
                    raise httpx.RemoteProtocolError("the push service closed the connection mid-response")
                return parsed.status, parsed, False  # a body delimited by closing the connection (HTTP/1.0)
            received = True
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserUpgrade as exc:
                raise httpx.RemoteProtocolError("unexpected protocol upgrade") from exc
            except httptools.HttpParserError as exc:
                raise httpx.RemoteProtocolError(f"not a valid HTTP response: {exc}") from exc
            if parsed.truncated:
                break  # a huge answer: stop reading; the connection is dropped below
        keep = parsed.complete and not parsed.truncated and parsed.keep_alive
        return parsed.status, parsed, keep


class _StaleConnection(Exception):
    """A kept-alive connection the server had closed before our request arrived: safe to retry once."""


class PushTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_idle_per_origin: int = 256, max_response_bytes: int = 64 * 1024,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = defaultdict(deque)
        self._max_idle = max_idle_per_origin
        self._limit = max_response_bytes
        self._ssl = ssl_context or ssl.create_default_context(cafile=certifi.where() if certifi else None)

    async def _connect(self, scheme: str, host: str, port: int, timeout: float | None) -> _Connection:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._ssl if scheme == "https" else None,
                    server_hostname=host if scheme == "https" else None, limit=self._limit * 2)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return _Connection(reader, writer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}")
        port = url.port or (443 if url.scheme == "https" else 80)
        key = (url.scheme, url.host, port)
        body = await request.aread()
        head = [request.method.encode(), b" ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            head += [name, b": ", value, b"\r\n"]
        data = b"".join(head) + b"\r\n" + body
        timeouts = request.extensions.get("timeout", {})
        idle = self._idle[key]
        for attempt in (0, 1):
            reused = bool(idle) and attempt == 0
            connection = idle.pop() if reused else await self._connect(url.scheme, url.host, port,
                                                                         timeouts.get("connect"))
            try:
                async with asyncio.timeout(timeouts.get("read")):
                    status, parsed, keep = await connection.exchange(data, self._limit)
            except _StaleConnection:
                connection.close()
                if reused:
                    continue
                raise httpx.RemoteProtocolError("the push service closed the connection without answering") from None
            except TimeoutError as exc:
                connection.close()
                raise httpx.ReadTimeout("the push service did not answer in time") from exc
            except (OSError, ssl.SSLError) as exc:
                connection.close()
                if reused and isinstance(exc, ConnectionResetError):
                    continue
                raise httpx.ReadError(f"network error: {exc}") from exc
            except BaseException:
                connection.close()
                raise
            if keep and len(idle) < self._max_idle:
                idle.append(connection)
            else:
                connection.close()
            return httpx.Response(status, headers=parsed.headers, stream=httpx.ByteStream(bytes(parsed.body)),
                                  request=request)
        raise httpx.RemoteProtocolError("the push service closed the connection without answering")

    async def aclose(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()
