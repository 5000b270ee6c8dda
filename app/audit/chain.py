"""The hash rule of API.md, pure: no database, so offline verifiers can import it alone.

hash = lowercase hex SHA-256 of the RFC 8785 canonical JSON of every field except `hash`.
"""

import hashlib
from collections.abc import Iterable
from typing import Any

import rfc8785

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "at", "actor_id", "actor_role", "operation_id", "action",
    "target_type", "target_id", "details", "ip", "prev_hash",
)  # fmt: skip


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def event_hash(event: dict[str, Any]) -> str:
    body = {name: event[name] for name in HASHED_FIELDS}
    return hashlib.sha256(canonical(body)).hexdigest()


def first_bad_seq(events: Iterable[dict[str, Any]], prev_hash: str = GENESIS_HASH) -> int | None:
    """Walk events in seq order; the seq of the first whose link or hash is wrong, else None."""
    expected_seq = None
    for event in events:
        if expected_seq is not None and event["seq"] != expected_seq:
            return expected_seq
        if event["prev_hash"] != prev_hash or event_hash(event) != event["hash"]:
            return event["seq"]
        prev_hash = event["hash"]
        expected_seq = event["seq"] + 1
    return None
