"""Verify an audit export with nothing but the file, its manifest and the public key.

No database, no server, no Parley settings: this module imports only the standard library,
`cryptography` and `app.audit.chain` (itself only hashlib/json/rfc8785), so an auditor can run
`parley audit verify-export` on a laptop that has never seen the Parley database.

What is checked, in one pass over the file (flat memory however large the export):
- the manifest's Ed25519 signature, with the public key given out of band;
- the SHA-256 of the exported bytes against the manifest's `sha256`;
- every event's hash (JSON Lines: the line itself must be the canonical bytes that were hashed);
- the seqs are exactly those the manifest lists, in order; adjacent seqs link by `prev_hash`, and a
  complete (unfiltered) export links from the manifest's `prev_hash` to its last event.
The first problem found in the events is reported with its line number.
"""

import base64
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.audit.chain import EXPORT_FIELDS, canonical, event_hash, is_archived

_HASH_KEY = b'"hash":"'
_INT_FIELDS = {"seq"}
READ_CHUNK = 1 << 20


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_key: bytes) -> str:
    """A short fingerprint that names the key in manifests and checkpoints."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def load_public_key(value: str) -> bytes:
    """The key itself (base64url, 32 bytes) or a file holding it (raw text, or PEM)."""
    text = value.strip()
    path = Path(text)
    if len(text) > 60 or path.exists():
        try:
            text = path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"cannot read the public key file {value!r}: {exc.strerror}") from exc
    if text.startswith("-----BEGIN"):
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_public_key(text.encode())
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        raw = b64url_decode(text)
    except ValueError as exc:
        raise ValueError("the public key is not base64url") from exc
    if len(raw) != 32:
        raise ValueError("the public key must be 32 bytes (base64url), as `parley audit public-key` prints it")
    return raw


def signature_ok(document: dict[str, Any], public_key: bytes) -> bool:
    """True when `document["signature"]` signs the canonical JSON of the rest of `document`."""
    signature = document.get("signature")
    if not isinstance(signature, str):
        return False
    unsigned = {name: value for name, value in document.items() if name != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(b64url_decode(signature), canonical(unsigned))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def seq_ranges(seqs: Iterator[int]) -> list[list[int]]:
    """[1,2,3,7,9,10] -> [[1,3],[7,7],[9,10]]: how manifests list the seqs an export includes."""
    ranges: list[list[int]] = []
    for seq in seqs:
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _listed_seqs(ranges: list) -> Iterator[int]:
    for first, last in ranges:
        yield from range(first, last + 1)


@dataclass
class Verdict:
    ok: bool = True
    events: int = 0
    archived: int = 0
    first_bad_line: int | None = None
    findings: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None

    def fail(self, message: str, line: int | None = None) -> None:
        self.ok = False
        if line is not None and self.first_bad_line is None:
            self.first_bad_line = line
        self.findings.append(f"line {line}: {message}" if line is not None else message)

    def summary(self) -> str:
        manifest = self.manifest or {}
        if self.ok:
            scope = ("complete and contiguous: the chain links from the manifest's prev_hash to the last event"
                     if manifest.get("complete") else
                     "filtered: each included event is proven, the absence of other events is not")
            lines = [f"VERIFIED: {self.events} events, seq {manifest.get('first_seq')}..{manifest.get('last_seq')}, "
                     f"exported {manifest.get('exported_at')} by {_who(manifest.get('exported_by'))}, "
                     f"signed by key {manifest.get('key_id')}",
                     f"  {scope}"]
            if self.archived:
                lines.append(f"  {self.archived} events were archived under retention: their detail was removed, "
                             "their kept hashes still link the chain")
            return "\n".join(lines)
        where = f" (first bad line: {self.first_bad_line})" if self.first_bad_line is not None else ""
        return "\n".join([f"FAILED{where}", *(f"  - {finding}" for finding in self.findings)])


def _who(exporter: Any) -> str:
    if isinstance(exporter, dict):
        return f"{exporter.get('service_number') or exporter.get('id')} ({exporter.get('role')})"
    return str(exporter)


class _EventChecker:
    """Checks events one at a time against the manifest: seqs as listed, hashes, links."""

    def __init__(self, verdict: Verdict, manifest: dict[str, Any]):
        self.verdict = verdict
        self.manifest = manifest
        ranges = manifest.get("seqs")
        self.expected = _listed_seqs(ranges) if isinstance(ranges, list) else None
        self.complete = bool(manifest.get("complete"))
        self.previous: dict[str, Any] | None = None
        self.failed = False

    def fail(self, message: str, line: int) -> None:
        if not self.failed:  # the first bad event is the one that matters; later ones follow from it
            self.failed = True
            self.verdict.fail(message, line)

    def check(self, event: dict[str, Any], line: int, hash_ok: bool) -> None:
        self.verdict.events += 1
        if self.failed:
            return
        seq = event.get("seq")
        expected = next(self.expected, None) if self.expected is not None else None
        if type(seq) is not int:
            return self.fail("the event has no valid seq", line)
        if self.expected is not None and seq != expected:
            if expected is None:
                return self.fail(f"seq {seq} is not listed in the manifest (extra or moved event)", line)
            if self.previous is not None and seq < self.previous["seq"]:
                return self.fail(f"seq {seq} comes after seq {self.previous['seq']}: events out of order", line)
            return self.fail(f"expected seq {expected} here but found seq {seq}: "
                             f"event {expected} is missing or moved", line)
        if is_archived(event):
            self.verdict.archived += 1
        elif not hash_ok:
            return self.fail(f"seq {seq}: the content does not match its hash (edited)", line)
        previous = self.previous
        if previous is None and self.complete and event.get("prev_hash") != self.manifest.get("prev_hash"):
            return self.fail(f"seq {seq}: prev_hash does not continue from the manifest's prev_hash", line)
        if previous is not None and seq == previous["seq"] + 1 and event.get("prev_hash") != previous["hash"]:
            return self.fail(f"seq {seq}: prev_hash does not match the hash of seq {previous['seq']}", line)
        self.previous = {"seq": seq, "hash": event.get("hash")}

    def finish(self, line: int) -> None:
        if self.failed:
            return
        missing = next(self.expected, None) if self.expected is not None else None
        if missing is not None:
            self.fail(f"the file ends here but the manifest lists seq {missing} and more: the tail was cut", line)
        elif self.verdict.events != self.manifest.get("count"):
            self.fail(f"{self.verdict.events} events in the file, the manifest says {self.manifest.get('count')}",
                      line)


def _jsonl_event(line: bytes) -> tuple[dict[str, Any], bool]:
    """Parse one line; True when it is exactly the canonical bytes whose SHA-256 is its hash.

    In canonical JSON the top-level "hash" member is the last raw `"hash":"` in the line (members are
    sorted and everything after it is a plain string, number or null), so removing it gives the bytes
    that were hashed. A SHA-256 match then proves the line is exactly the event as hashed."""
    event = json.loads(line)
    if not isinstance(event, dict) or not isinstance(event.get("hash"), str):
        raise ValueError("not an audit event")
    member = _HASH_KEY + event["hash"].encode() + b'",'
    at = line.rfind(member)
    if at < 0:
        return event, False
    body = line[:at] + line[at + len(member):]
    return event, hashlib.sha256(body).hexdigest() == event["hash"]


def _check_manifest(verdict: Verdict, manifest: Any, public_key: bytes, where: str) -> dict[str, Any] | None:
    if not isinstance(manifest, dict) or manifest.get("type") != "manifest":
        verdict.fail(f"{where}: this is not a Parley audit manifest")
        return None
    verdict.manifest = manifest
    if manifest.get("key_id") not in (None, key_id(public_key)):
        verdict.fail(f"{where}: the manifest was signed by key {manifest.get('key_id')}, "
                     f"not by the key given ({key_id(public_key)})")
    elif not signature_ok(manifest, public_key):
        verdict.fail(f"{where}: the manifest's signature is not valid (the manifest was altered or forged)")
    return manifest


def _lines(handle) -> Iterator[bytes]:
    """Lines without their newline, read in large chunks (much faster than line-by-line I/O)."""
    rest = b""
    while chunk := handle.read(READ_CHUNK):
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def verify_jsonl(path: Path, public_key: bytes, manifest: dict[str, Any] | None = None) -> Verdict:
    """JSON Lines: the manifest is the last line (or given separately); one streaming pass over the events."""
    verdict = Verdict()
    embedded: dict[str, Any] | None = None
    try:
        tail = json.loads(_last_line(path))
        if isinstance(tail, dict) and tail.get("type") == "manifest":
            embedded = tail
    except ValueError:
        pass
    if manifest is not None:
        manifest = _check_manifest(verdict, manifest, public_key, "manifest file")
        if manifest is None:
            return verdict
    elif embedded is not None:
        manifest = _check_manifest(verdict, embedded, public_key, "manifest (last line)")
    checker = _EventChecker(verdict, manifest or {})
    digest = hashlib.sha256()
    previous: tuple[int, bytes] | None = None
    with path.open("rb") as handle:
        for number, line in enumerate(_lines(handle), start=1):
            if previous is not None:
                _feed(checker, digest, *previous)
            previous = (number, line)
    if previous is None:
        verdict.fail("the file is empty")
        return verdict
    end_line = previous[0]
    if embedded is None:
        _feed(checker, digest, *previous)
        end_line += 1
    if manifest is None:
        verdict.fail(f"the file ends after line {end_line - 1} without its manifest line: "
                     "the tail was cut or the manifest removed", end_line)
        return verdict
    checker.finish(end_line)
    if digest.hexdigest() != manifest.get("sha256"):
        verdict.fail("the SHA-256 of the exported bytes does not match the manifest (the file was changed, "
                     "cut, or the manifest belongs to another export)")
    return verdict


def _feed(checker: _EventChecker, digest, number: int, line: bytes) -> None:
    digest.update(line + b"\n")
    try:
        event, hash_ok = _jsonl_event(line)
    except ValueError:
        checker.verdict.events += 1
        checker.fail("not a valid audit event (the line was changed or cut)", number)
        return
    checker.check(event, number, hash_ok)


def _last_line(path: Path) -> bytes:
    """The file's last non-empty line, read from the end (the JSON Lines manifest)."""
    with path.open("rb") as handle:
        handle.seek(0, io.SEEK_END)
        size = handle.tell()
        block = b""
        position = size
        while position > 0:
            step = min(READ_CHUNK, position)
            position -= step
            handle.seek(position)
            block = handle.read(step) + block
            stripped = block.rstrip(b"\n")
            if b"\n" in stripped or position == 0:
                return stripped.rsplit(b"\n", 1)[-1]
    return b""


def _csv_value(name: str, text: str) -> Any:
    if name in _INT_FIELDS:
        return int(text)
    if name == "details":
        return json.loads(text)
    return text or None  # an empty cell is null: Parley never records empty strings


def verify_csv(path: Path, public_key: bytes, manifest: dict[str, Any] | None) -> Verdict:
    verdict = Verdict()
    if manifest is None:
        verdict.fail("a CSV export needs its manifest: pass --manifest (GET /api/v1/audit/export/manifest)")
        return verdict
    manifest = _check_manifest(verdict, manifest, public_key, "manifest file")
    if manifest is None:
        return verdict
    checker = _EventChecker(verdict, manifest)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            digest.update(chunk)
    with path.open(newline="", encoding="utf-8", errors="strict") as text:
        reader = csv.reader(text)
        try:
            header = next(reader, None)
            if header is None or tuple(header) != EXPORT_FIELDS:
                verdict.fail(f"the header row is not {','.join(EXPORT_FIELDS)}", 1)
                return verdict
            for row in reader:
                line = reader.line_num
                try:
                    if len(row) != len(EXPORT_FIELDS):
                        raise ValueError
                    event = {name: _csv_value(name, value) for name, value in zip(EXPORT_FIELDS, row, strict=True)}
                except ValueError:
                    verdict.events += 1
                    checker.fail("not a valid audit event row (the row was changed or cut)", line)
                    continue
                checker.check(event, line, event_hash(event) == event["hash"])
            checker.finish(reader.line_num)
        except (UnicodeDecodeError, csv.Error) as exc:
            verdict.fail(f"the file is not readable CSV: {exc}", reader.line_num or 1)
    if digest.hexdigest() != manifest.get("sha256"):
        verdict.fail("the SHA-256 of the exported bytes does not match the manifest (the file was changed, "
                     "cut, or the manifest belongs to another export)")
    return verdict


def verify_export(path: Path, public_key: bytes, manifest_path: Path | None = None) -> Verdict:
    """The CLI's entry point: JSON Lines or CSV, judged by the manifest's format or the file's first byte."""
    manifest: dict[str, Any] | None = None
    if manifest_path is not None:
        try:
            manifest = json.loads(manifest_path.read_bytes())
        except (OSError, ValueError) as exc:
            verdict = Verdict()
            verdict.fail(f"cannot read the manifest {manifest_path}: {exc}")
            return verdict
    file_format = manifest.get("format") if isinstance(manifest, dict) else None
    if file_format is None:  # JSON Lines carries its manifest; otherwise go by the file's name
        file_format = "csv" if path.suffix.lower() == ".csv" else "jsonl"
    if file_format == "csv":
        return verify_csv(path, public_key, manifest)
    return verify_jsonl(path, public_key, manifest)
