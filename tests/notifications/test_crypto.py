"""Payload size and shape, RFC 8291 encryption checked with http_ece, VAPID JWT and origin rules."""

import json
import os
import uuid
from datetime import timedelta
from types import SimpleNamespace

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from app.core.types import utcnow
from app.notifications.payload import (
    MAX_PLAINTEXT_BYTES,
    build_payload,
    receipt_token,
    user_of_receipt_token,
)
from app.notifications.sender import PushMessage, PushSender
from app.notifications.vapid import (
    RENEW_BEFORE_SECONDS,
    TOKEN_LIFETIME_SECONDS,
    VapidSigner,
    b64url,
    b64url_decode,
    generate_private_key_text,
    load_private_key,
    origin_of,
)


def notification(**fields):
    base = dict(id=uuid.uuid4(), operation_id=uuid.uuid4(), kind="message", title="Title", body="Body",
                urgency="high", require_ack=True, url=None, sensitive=False, topic=None, created_at=utcnow(),
                expires_at=utcnow() + timedelta(hours=1))
    return SimpleNamespace(**(base | fields))


def payload(n, **kwargs) -> bytes:
    return build_payload(notification=n, exercise=False, user_id=uuid.uuid4(), round=0, token="t" * 60,
                         public_url="https://parley.example", **kwargs)


class TestPayload:
    @hsettings(max_examples=150, deadline=None)
    @given(title=st.text(min_size=1, max_size=120), body=st.text(min_size=1, max_size=4000))
    def test_always_fits_one_record_and_is_json(self, title, body):
        encoded = payload(notification(title=title, body=body))
        assert len(encoded) <= MAX_PLAINTEXT_BYTES
        message = json.loads(encoded)
        assert message["title"] == title
        if message["truncated"]:
            assert body.startswith(message["body"][:-1].rstrip()) or message["body"] == "…"
        else:
            assert message["body"] == body

    def test_declarative_web_push_members(self):
        n = notification(url="/#/escalations/7", topic="route")
        message = json.loads(payload(n))
        assert message["web_push"] == 8030 and message["mutable"] is True
        assert message["notification"] == {"title": "Title", "body": "Body", "lang": "en", "tag": "route",
                                           "navigate": "https://parley.example/#/escalations/7",
                                           "require_interaction": True}


class TestEncryption:
    def setup_method(self):
        self.sender = PushSender(VapidSigner(load_private_key(generate_private_key_text()), "mailto:x@example.invalid"))
        self.browser_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        from cryptography.hazmat.primitives import serialization

        self.p256dh = b64url(self.browser_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    def message(self, plaintext: bytes) -> PushMessage:
        return PushMessage("https://fcm.googleapis.com/fcm/send/x", self.p256dh, b64url(self.auth), plaintext,
                           ttl=60, urgency="high", topic="t")

    def test_http_ece_decrypts_what_we_encrypt(self):
        plaintext = json.dumps({"hello": "wörld"}).encode()
        body = self.sender.encrypt(self.message(plaintext))
        assert http_ece.decrypt(body, private_key=self.browser_key, auth_secret=self.auth,
                                version="aes128gcm") == plaintext

    def test_largest_plaintext_fits_a_4096_byte_body(self):
        body = self.sender.encrypt(self.message(b"x" * MAX_PLAINTEXT_BYTES))
        assert len(body) <= 4096

    def test_oversize_plaintext_is_refused(self):
        with pytest.raises(ValueError, match="3993"):
            self.sender.encrypt(self.message(b"x" * (MAX_PLAINTEXT_BYTES + 1)))

    def test_headers_are_all_explicit(self):
        headers = self.sender.headers(self.message(b"{}"))
        assert headers["TTL"] == "60" and headers["Urgency"] == "high" and headers["Topic"] == "t"
        assert headers["Content-Encoding"] == "aes128gcm"
        assert headers["Authorization"].startswith("vapid t=")


class TestVapid:
    @pytest.mark.parametrize(("endpoint", "origin"), [
        ("https://fcm.googleapis.com/fcm/send/x", "https://fcm.googleapis.com"),
        ("https://fcm.googleapis.com:443/x", "https://fcm.googleapis.com"),
        ("https://push.example:8443/x", "https://push.example:8443"),
        ("http://127.0.0.1:8090/push/x", "http://127.0.0.1:8090"),
        ("http://LOCALHOST:80/x", "http://localhost"),
        ("https://[::1]:9000/x", "https://[::1]:9000"),
    ])
    def test_aud_is_the_origin_with_a_non_default_port(self, endpoint, origin):
        assert origin_of(endpoint) == origin

    def test_jwt_verifies_with_k_and_carries_the_claims(self):
        signer = VapidSigner(load_private_key(generate_private_key_text()), "mailto:ops@example.invalid")
        header = signer.authorization("https://push.example:8443/x", now=1_800_000_000)
        token = header.split("t=")[1].split(",")[0]
        k = header.split("k=")[1]
        head, claims, signature = token.split(".")
        assert json.loads(b64url_decode(head)) == {"typ": "JWT", "alg": "ES256"}
        assert json.loads(b64url_decode(claims)) == {
            "aud": "https://push.example:8443", "sub": "mailto:ops@example.invalid",
            "exp": 1_800_000_000 + TOKEN_LIFETIME_SECONDS}
        raw = b64url_decode(signature)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(k))
        public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                      f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))

    def test_token_reused_per_origin_until_shortly_before_expiry(self):
        signer = VapidSigner(load_private_key(generate_private_key_text()), "mailto:ops@example.invalid")
        first = signer.authorization("https://a.example/1", now=1000)
        assert signer.authorization("https://a.example/2", now=2000) == first
        assert signer.authorization("https://b.example/1", now=2000) != first
        assert signer.signed == 2
        late = 1000 + TOKEN_LIFETIME_SECONDS - RENEW_BEFORE_SECONDS + 1
        assert signer.authorization("https://a.example/3", now=late) != first
        assert signer.signed == 3

    def test_pem_keys_are_accepted_and_other_curves_refused(self):
        from cryptography.hazmat.primitives import serialization

        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        assert load_private_key(pem).curve.name == "secp256r1"
        other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        with pytest.raises(ValueError):
            load_private_key(other)
        with pytest.raises(ValueError):
            load_private_key("c2hvcnQ")


def test_receipt_token_names_one_recipient_of_one_message():
    key, nid, uid = os.urandom(32), uuid.uuid4(), uuid.uuid4()
    token = receipt_token(key, nid, uid)
    assert user_of_receipt_token(key, nid, token) == uid
    assert user_of_receipt_token(key, uuid.uuid4(), token) is None
    assert user_of_receipt_token(os.urandom(32), nid, token) is None
    assert user_of_receipt_token(key, nid, "x.y") is None
