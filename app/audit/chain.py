"""The hash rule of API.md, pure: no database, so offline verifiers can import it alone.

hash = lowercase hex SHA-256 of the RFC 8785 canonical JSON of every field except `hash`.

This module imports only the standard library and `rfc8785`: `app.audit.offline` (the verifier an
auditor runs without a database) builds on it.
"""

import hashlib
import json
from collections.abc import Iterable
from json.encoder import encode_basestring as _quote  # C; the ensure_ascii=False escaping
from typing import Any

import rfc8785

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "at", "actor_id", "actor_role", "operation_id", "action",
    "target_type", "target_id", "details", "ip", "prev_hash",
)  # fmt: skip
# Column order of exports: the hashed fields in API.md's order, then the hash.
EXPORT_FIELDS = (*HASHED_FIELDS, "hash")
# What `details` becomes when retention archiving removes an event's detail (its hash is kept).
ARCHIVED_DETAILS: dict[str, Any] = {"archived": True}
_MAX_SAFE_INTEGER = 2**53 - 1
_TEXT_FIELDS = tuple(name for name in EXPORT_FIELDS if name not in ("seq", "details"))


def _json_dumps_is_jcs(value: Any) -> bool:
    """True when `json.dumps(sort_keys, compact, ensure_ascii=False)` gives exactly RFC 8785's bytes.

    That holds for strings, safe integers, booleans, null, lists and objects whose keys are in the Basic
    Multilingual Plane (JCS sorts keys by UTF-16 code units, Python by code points; the two orders agree
    there). Floats print differently (1.0 vs 1, 1e+21 vs 1e21), so anything else takes the slow path.
    Strings and nulls, nearly every value in the log, are accepted inline (this runs for every event
    exported or verified)."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if not key.isascii() and any(ord(char) > 0xFFFF for char in key):
                return False
            item_kind = type(item)
            if item_kind is str or item is None or item_kind is bool:
                continue
            if not _json_dumps_is_jcs(item):
                return False
        return True
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER
    if kind is list:
        return all(_json_dumps_is_jcs(item) for item in value)
    return False


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON. The audit log's values take a fast, equivalent path (tested against
    the `rfc8785` package with Hypothesis); anything unusual goes to `rfc8785` itself."""
    if _json_dumps_is_jcs(value):
        return _fast(value)
    return rfc8785.dumps(value)


def _fast(value: Any) -> bytes:
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let rfc8785 decide
        return rfc8785.dumps(value)


def _event_is_plain(event: dict[str, Any]) -> bool:
    """The top-level fields of a stored event are text, null and a seq: only details needs the full check."""
    seq = event["seq"]
    if type(seq) is not int or not 0 < seq <= _MAX_SAFE_INTEGER or type(event["details"]) is not dict:
        return False
    for name in _TEXT_FIELDS:
        value = event.get(name)
        if value is not None and type(value) is not str:
            return False
    return _json_dumps_is_jcs(event["details"])


def canonical_event(event: dict[str, Any]) -> bytes:
    """`canonical()` of an event dict (with or without its hash), faster for the common shape."""
    return _fast(event) if _event_is_plain(event) else canonical(event)


def _text(value: Any) -> str:
    return "null" if value is None else _quote(value)


def export_line(event: dict[str, Any]) -> bytes:
    """`canonical(event)` for a stored event with its hash, i.e. one JSON Lines export line (without the
    newline). The members are written in their canonical (sorted) order directly: the export does this
    for every event, and skipping the generic sort is a good part of its time. Anything unusual falls
    back to `canonical()`."""
    seq, details = event["seq"], event["details"]
    if type(seq) is not int or not 0 < seq <= _MAX_SAFE_INTEGER or type(details) is not dict \
            or not _json_dumps_is_jcs(details):
        return canonical(event)
    try:
        return (
            '{"action":' + _text(event["action"]) + ',"actor_id":' + _text(event["actor_id"])
            + ',"actor_role":' + _text(event["actor_role"]) + ',"at":' + _text(event["at"])
            + ',"details":' + _ENCODER.encode(details) + ',"hash":' + _text(event["hash"])
            + ',"ip":' + _text(event["ip"]) + ',"operation_id":' + _text(event["operation_id"])
            + ',"prev_hash":' + _text(event["prev_hash"]) + ',"seq":' + str(seq)
            + ',"target_id":' + _text(event["target_id"]) + ',"target_type":' + _text(event["target_type"]) + "}"
        ).encode("utf-8")
    except (TypeError, UnicodeEncodeError):  # a value that is not text, a lone surrogate: the careful path
        return canonical(event)


def event_hash(event: dict[str, Any]) -> str:
    body = {name: event[name] for name in HASHED_FIELDS}
    return hashlib.sha256(canonical_event(body)).hexdigest()


_BEFORE_LINK = ("action", "actor_id", "actor_role", "at", "details", "ip", "operation_id")
_AFTER_LINK = ("target_id", "target_type")


def canonical_parts(event: dict[str, Any]) -> tuple[str, str]:
    """The canonical JSON of an event's body split around its link: the bytes hashed are
    prefix + '"prev_hash":"<hash>","seq":<seq>,' + suffix. The top-level names are ASCII, so JCS puts
    "prev_hash" and "seq" between "operation_id" and "target_id"; the writer lets PostgreSQL fill in the
    link under the chain lock."""
    prefix = canonical({name: event[name] for name in _BEFORE_LINK})[:-1] + b","
    suffix = canonical({name: event[name] for name in _AFTER_LINK})[1:]
    return prefix.decode("utf-8"), suffix.decode("utf-8")


def is_archived(event: dict[str, Any]) -> bool:
    """Retention archiving replaced this event's detail; its stored hash stands for the original."""
    return event["details"] == ARCHIVED_DETAILS


def first_bad_seq(events: Iterable[dict[str, Any]], prev_hash: str = GENESIS_HASH) -> int | None:
    """Walk events in seq order; the seq of the first whose link or hash is wrong, else None.

    An archived event cannot be re-hashed (its detail is gone); its kept hash must still link."""
    expected_seq = None
    for event in events:
        if expected_seq is not None and event["seq"] != expected_seq:
            return expected_seq
        if event["prev_hash"] != prev_hash or (not is_archived(event) and event_hash(event) != event["hash"]):
            return event["seq"]
        prev_hash = event["hash"]
        expected_seq = event["seq"] + 1
    return None
