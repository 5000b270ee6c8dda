"""Access tokens: only our own, unexpired, for our audience and issuer, signed with our key, are accepted."""

import base64
import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from jose import jwt

from app.core.config import Settings
from app.core.security import JWT_ALGORITHM, TokenError, create_access_token, decode_access_token

SETTINGS = Settings(jwt_secret="k" * 48, env="test")
IDS = dict(user_id=uuid.uuid4(), session_id=uuid.uuid4(), role="officer")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides):
    now = datetime.now(UTC)
    claims = {"iss": "parley", "aud": "parley-app", "sub": str(IDS["user_id"]), "sid": str(IDS["session_id"]),
              "role": "officer", "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp())}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_round_trip():
    token, expires_in = create_access_token(settings=SETTINGS, **IDS)
    claims = decode_access_token(token, SETTINGS)
    assert claims.user_id == IDS["user_id"] and claims.session_id == IDS["session_id"] and expires_in == 900


@pytest.mark.parametrize("overrides", [
    {"aud": "someone-else"}, {"iss": "evil"}, {"exp": 1_000_000}, {"aud": None}, {"iss": None}, {"exp": None},
    {"sid": "not-a-uuid"}, {"sub": None}, {"sid": None},
])
def test_claims_that_must_be_refused(overrides):
    token = jwt.encode(_claims(**overrides), SETTINGS.jwt_secret, algorithm=JWT_ALGORITHM)
    with pytest.raises(TokenError):
        decode_access_token(token, SETTINGS)


def test_alg_none_is_refused():
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    token = f"{header}.{_b64(json.dumps(_claims()).encode())}."
    with pytest.raises(TokenError):
        decode_access_token(token, SETTINGS)


def test_other_key_is_refused():
    token = jwt.encode(_claims(), "x" * 48, algorithm=JWT_ALGORITHM)
    with pytest.raises(TokenError):
        decode_access_token(token, SETTINGS)


def test_other_algorithm_with_our_secret_is_refused():
    token = jwt.encode(_claims(), SETTINGS.jwt_secret, algorithm="HS512")
    with pytest.raises(TokenError):
        decode_access_token(token, SETTINGS)


@hsettings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_string_is_refused_cleanly(text):
    with pytest.raises(TokenError):
        decode_access_token(text, SETTINGS)


@hsettings(max_examples=200)
@given(position=st.integers(min_value=0), replacement=st.characters(whitelist_categories=("Lu", "Ll", "Nd")))
def test_any_single_character_change_is_refused(position, replacement):
    token, _ = create_access_token(settings=SETTINGS, **IDS)
    position %= len(token)
    if token[position] == replacement or token[position] == ".":
        return
    tampered = token[:position] + replacement + token[position + 1:]
    try:
        claims = decode_access_token(tampered, SETTINGS)
    except TokenError:
        return
    # base64url has slack in the last character's low bits: a change that decodes to the same bytes is the same token
    assert claims.user_id == IDS["user_id"] and claims.session_id == IDS["session_id"]


@hsettings(max_examples=100)
@given(claims=st.dictionaries(st.sampled_from(["iss", "aud", "sub", "sid", "exp", "iat", "role"]),
                              st.one_of(st.text(max_size=20), st.integers(), st.none(), st.booleans()), max_size=7))
def test_arbitrary_claims_signed_with_our_key_never_crash(claims):
    token = jwt.encode(dict(claims), SETTINGS.jwt_secret, algorithm=JWT_ALGORITHM)
    with contextlib.suppress(TokenError):  # refusing is fine; anything else (a crash) fails the test
        decode_access_token(token, SETTINGS)


def test_api_answers_401_for_expired_tokens(client, world):
    from app.core.config import get_settings, jwt_secret

    expired = jwt.encode(_claims(sub=str(world["officer"].id), exp=int(datetime.now(UTC).timestamp()) - 60),
                         jwt_secret(get_settings()), algorithm=JWT_ALGORITHM)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401


def test_a_remembered_token_still_expires():
    """Verified tokens are remembered to spare the signature check; the expiry is checked every time."""
    issued = datetime.now(UTC) - timedelta(minutes=14, seconds=50)  # 10 s of its 15 minutes left
    token, _ = create_access_token(settings=SETTINGS, now=issued, **IDS)
    assert decode_access_token(token, SETTINGS).session_id == IDS["session_id"]  # verified, remembered
    later = datetime.now(UTC) + timedelta(seconds=30)
    with pytest.raises(TokenError):
        decode_access_token(token, SETTINGS, now=later)


def test_a_remembered_token_is_not_valid_under_another_key():
    token, _ = create_access_token(settings=SETTINGS, **IDS)
    decode_access_token(token, SETTINGS)
    with pytest.raises(TokenError):
        decode_access_token(token, Settings(jwt_secret="z" * 48, env="test"))
