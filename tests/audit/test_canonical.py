"""The hash rule of API.md: canonical JSON (RFC 8785) checked against the `rfc8785` package and against
an independent re-implementation written from the RFC, over open-ended input."""

import hashlib
import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from app.audit.chain import GENESIS_HASH, HASHED_FIELDS, canonical, event_hash, first_bad_seq

SAFE = 2**53 - 1
_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def jcs(value) -> str:
    """RFC 8785 for the JSON values the audit log holds, from the RFC's text (section 3.2)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + "".join(_SHORT.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 else c) for c in value) + '"'
    if isinstance(value, list):
        return "[" + ",".join(jcs(item) for item in value) + "]"
    # members sorted by the UTF-16 code units of their names (3.2.3)
    members = sorted(value.items(), key=lambda item: item[0].encode("utf-16-be"))
    return "{" + ",".join(jcs(name) + ":" + jcs(item) for name, item in members) + "}"


texts = st.text(max_size=20)  # any code point but lone surrogates, incl. controls and astral planes
scalars = st.none() | st.booleans() | st.integers(-SAFE, SAFE) | texts
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=20
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_canonical_matches_rfc8785_and_the_independent_rule(value):
    expected = rfc8785.dumps(value)
    assert canonical(value) == expected
    assert jcs(value).encode("utf-8") == expected


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.lists(st.floats(allow_nan=False, allow_infinity=False)))
def test_floats_take_the_rfc8785_path(value):
    assert canonical(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), {"n": 2**60}])
def test_integers_outside_the_safe_range_are_refused_like_rfc8785(value):
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical(value)


def test_key_order_is_by_utf16_code_units():
    # U+FF61 sorts after U+1F600 in UTF-16 (0xD83D...) but before it by code point
    value = {"\uff61": 1, "\U0001f600": 2}
    assert canonical(value) == rfc8785.dumps(value) == '{"\U0001f600":2,"\uff61":1}'.encode()


events = st.fixed_dictionaries({
    "seq": st.integers(1, SAFE),
    "at": st.just("2026-11-26T07:30:00.123456Z"),
    "actor_id": st.none() | st.uuids().map(str),
    "actor_role": st.none() | st.sampled_from(["officer", "bronze", "gold", "comms", "auditor", "admin"]),
    "operation_id": st.none() | st.uuids().map(str),
    "action": st.sampled_from(["auth.login", "template.used", "escalation.created", "audit.exported"]),
    "target_type": st.none() | texts,
    "target_id": st.none() | texts,
    "details": st.dictionaries(texts, json_values, max_size=5),
    "ip": st.none() | st.ip_addresses().map(str),
    "prev_hash": st.just(GENESIS_HASH) | st.binary(min_size=32, max_size=32).map(bytes.hex),
})


@settings(max_examples=300, deadline=None)
@given(events)
def test_event_hash_is_sha256_of_the_canonical_fields(event):
    body = {name: event[name] for name in HASHED_FIELDS}
    assert event_hash(event) == hashlib.sha256(jcs(body).encode("utf-8")).hexdigest()
    assert event_hash({**event, "hash": "ignored"}) == event_hash(event)  # every field except hash


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(texts, scalars, max_size=3), min_size=1, max_size=8), st.data())
def test_first_bad_seq_finds_any_edit(details_list, data):
    chain, prev = [], GENESIS_HASH
    for seq, details in enumerate(details_list, start=1):
        event = {"seq": seq, "at": "2026-11-26T07:30:00.000000Z", "actor_id": None, "actor_role": None,
                 "operation_id": None, "action": "auth.login", "target_type": None, "target_id": None,
                 "details": details, "ip": None, "prev_hash": prev}
        event["hash"] = prev = event_hash(event)
        chain.append(event)
    assert first_bad_seq(chain) is None
    victim = data.draw(st.integers(0, len(chain) - 1))
    chain[victim] = {**chain[victim], "details": {**chain[victim]["details"], "edited": json.dumps(victim)}}
    assert first_bad_seq(chain) == victim + 1


@settings(max_examples=200, deadline=None)
@given(events)
def test_canonical_parts_rebuild_the_hashed_bytes(event):
    """The PostgreSQL writer hashes prefix + link + suffix on the server: those must be the same bytes."""
    from app.audit.chain import canonical_parts

    prefix, suffix = canonical_parts(event)
    rebuilt = f'{prefix}"prev_hash":"{event["prev_hash"]}","seq":{event["seq"]},{suffix}'.encode()
    assert rebuilt == canonical({name: event[name] for name in HASHED_FIELDS})


@settings(max_examples=300, deadline=None)
@given(events, st.binary(min_size=32, max_size=32).map(bytes.hex))
def test_export_line_is_the_canonical_event_with_its_hash(event, digest):
    from app.audit.chain import export_line

    stored = {**event, "hash": digest}
    assert export_line(stored) == canonical(stored) == rfc8785.dumps(stored)


def test_export_line_falls_back_for_unusual_values():
    from app.audit.chain import export_line

    odd = {"seq": 1, "at": "t", "actor_id": None, "actor_role": None, "operation_id": None, "action": "a",
           "target_type": None, "target_id": 42, "details": {"x": 1.5}, "ip": None, "prev_hash": "0", "hash": "1"}
    assert export_line(odd) == rfc8785.dumps(odd)
