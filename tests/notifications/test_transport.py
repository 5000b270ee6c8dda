"""The lean HTTP/1.1 push transport against real sockets: keep-alive, chunked, close-delimited and huge
answers, servers that drop idle connections, refuse, never answer, or speak TLS."""

import asyncio
import datetime
import ssl
import threading

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.notifications.transport import PushTransport


class Server:
    """An asyncio server in a thread; `handler(reader, writer)` decides what it answers."""

    def __init__(self, handler, ssl_context=None):
        self.handler, self.connections = handler, 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve(reader, writer):
            self.connections += 1
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        async def start():
            self.server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ssl_context)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        threading.Thread(target=lambda: (self.loop.run_until_complete(start()), self.loop.run_forever()),
                         daemon=True).start()
        ready.wait(5)

    def stop(self):
        async def shutdown():
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length"))
    return head, await reader.readexactly(length)


def post(url, transport=None, timeout=2.0, times=1):
    async def run():
        async with httpx.AsyncClient(transport=transport or PushTransport(), timeout=timeout) as client:
            return [await client.post(url, content=b"x" * 100, headers={"TTL": "60"}) for _ in range(times)]
    return asyncio.run(run())


def test_keep_alive_reuses_one_connection_and_sends_headers_and_body():
    seen = []

    async def handler(reader, writer):
        while True:
            head, body = await read_request(reader)
            seen.append((head, body))
            writer.write(b"HTTP/1.1 201 Created\r\nLocation: /m/1\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    server = Server(handler)
    responses = post(f"http://127.0.0.1:{server.port}/push/abc?x=1", times=3)
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert responses[0].headers["location"] == "/m/1"
    assert server.connections == 1
    head, body = seen[0]
    assert head.startswith(b"POST /push/abc?x=1 HTTP/1.1\r\n") and b"\r\nTTL: 60\r\n" in head
    assert body == b"x" * 100
    server.stop()


def test_chunked_and_close_delimited_answers():
    async def chunked(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nslow \r\n4\r\ndown\r\n0\r\n\r\n")
        await writer.drain()

    async def close_delimited(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.0 500 Oops\r\n\r\nbroken")
        await writer.drain()

    for handler, status, text in ((chunked, 429, "slow down"), (close_delimited, 500, "broken")):
        server = Server(handler)
        [response] = post(f"http://127.0.0.1:{server.port}/p")
        assert (response.status_code, response.text) == (status, text)
        server.stop()
    assert response.headers.get("retry-after") is None


def test_idle_connection_closed_by_the_server_is_retried_on_a_new_one():
    async def one_request_per_connection_without_saying_so(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)  # then closes, though it promised keep-alive

    server = Server(one_request_per_connection_without_saying_so)

    async def run():
        async with httpx.AsyncClient(transport=PushTransport(), timeout=2) as client:
            first = await client.post(f"http://127.0.0.1:{server.port}/p", content=b"a")
            await asyncio.sleep(0.2)
            second = await client.post(f"http://127.0.0.1:{server.port}/p", content=b"b")
            return first.status_code, second.status_code

    assert asyncio.run(run()) == (201, 201)
    assert server.connections == 2
    server.stop()


def test_huge_answer_is_cut_off():
    async def huge(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
        for _ in range(200):
            writer.write(b"z" * 50_000)
            await writer.drain()

    server = Server(huge)
    [response] = post(f"http://127.0.0.1:{server.port}/p", transport=PushTransport(max_response_bytes=1000))
    assert response.status_code == 200 and len(response.content) == 1000
    server.stop()


def test_silent_server_times_out_and_refused_connection_is_a_connect_error():
    async def silent(reader, writer):
        await asyncio.sleep(5)

    server = Server(silent)
    with pytest.raises(httpx.ReadTimeout):
        post(f"http://127.0.0.1:{server.port}/p", timeout=0.3)
    server.stop()
    with pytest.raises(httpx.ConnectError):
        post("http://127.0.0.1:1/p")


def test_not_http_is_a_protocol_error():
    async def garbage(reader, writer):
        await read_request(reader)
        writer.write(b"\x00\xff garbage garbage\r\n\r\n")
        await writer.drain()

    server = Server(garbage)
    with pytest.raises(httpx.RemoteProtocolError):
        post(f"http://127.0.0.1:{server.port}/p")
    server.stop()


def test_tls_is_verified(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    server = Server(handler, ssl_context=server_context)
    trusting = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    [response] = post(f"https://localhost:{server.port}/p", transport=PushTransport(ssl_context=trusting))
    assert response.status_code == 201
    with pytest.raises(httpx.ConnectError):  # the default trust store does not know this certificate
        post(f"https://localhost:{server.port}/p")
    server.stop()
