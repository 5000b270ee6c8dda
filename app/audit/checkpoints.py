"""Signed checkpoints of the chain head: every minute when there are new events, and on shutdown.

A checkpoint `{type, seq, head_hash, at, key_id, signature}` is stored in `audit_checkpoint` and, when
`PARLEY_AUDIT_CHECKPOINT_DIR` is set, also as a file there (e.g. a mounted write-once store). Someone
with write access to the database can cut the chain's tail or rewrite it with freshly computed hashes,
but cannot sign: `verify` holds the chain against every checkpoint it finds in both places.
"""

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from app.audit import signing
from app.audit.models import AuditCheckpoint
from app.audit.offline import signature_ok
from app.audit.service import head
from app.core import lifecycle
from app.core.config import Settings
from app.core.db import session_scope
from app.core.types import iso, parse_iso, utcnow

log = logging.getLogger("parley.audit.checkpoints")


def _document(row: AuditCheckpoint) -> dict:
    return {"type": "checkpoint", "seq": row.seq, "head_hash": row.head_hash, "at": iso(row.at),
            "key_id": row.key_id, "signature": row.signature}


def write_checkpoint(settings: Settings, *, force: bool = False) -> AuditCheckpoint | None:
    """Sign the current head if it moved since the last checkpoint (or `force`); None when nothing to do."""
    with session_scope() as session:
        seq, head_hash = head(session)
        last = session.scalar(select(func.max(AuditCheckpoint.seq)))
        if seq == 0 or (not force and last is not None and last >= seq):
            return None
        signed = signing.sign(settings, {"type": "checkpoint", "seq": seq, "head_hash": head_hash,
                                         "at": iso(utcnow()), "key_id": signing.current_key_id(settings)})
        row = AuditCheckpoint(seq=seq, head_hash=head_hash, at=parse_iso(signed["at"]), key_id=signed["key_id"],
                              signature=signed["signature"])
        session.add(row)
    if settings.audit_checkpoint_dir is not None:
        _write_file(settings.audit_checkpoint_dir, _document(row))
    return row


def _write_file(directory: Path, document: dict) -> None:
    """One file per checkpoint, never overwritten, flushed to disk before we call it written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        name = f"checkpoint-{document['seq']:012d}-{document['at'].replace(':', '')}.json"
        fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(document, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        # The database copy stands; the second location failing must be loud but not stop the app.
        log.exception("could not write the audit checkpoint to %s", directory)


@dataclass
class Loaded:
    """Checkpoints whose signature verified, by seq; and what was wrong with the others."""

    by_seq: dict[int, set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    skipped_other_key: int = 0

    @property
    def max_seq(self) -> int:
        return max(self.by_seq, default=0)

    def hash_at(self, seq: int) -> str | None:
        hashes = self.by_seq.get(seq)
        if not hashes:
            return None
        # Two different hashes signed for one seq cannot both be the chain: report whichever differs.
        return next(iter(hashes)) if len(hashes) == 1 else "conflicting checkpoints"

    def checked_upto(self, seq: int) -> int:
        return sum(1 for mark in self.by_seq if mark <= seq)

    def add(self, document: dict, public_key: bytes, key_id: str, source: str) -> None:
        if document.get("key_id") != key_id:
            self.skipped_other_key += 1  # signed before a key rotation: cannot be checked with this key
            return
        if not signature_ok(document, public_key) or type(document.get("seq")) is not int:
            self.problems.append(f"the checkpoint {source} does not carry a valid signature (forged or altered)")
            return
        self.by_seq.setdefault(document["seq"], set()).add(document["head_hash"])


def load(session: Session, settings: Settings) -> Loaded:
    loaded = Loaded()
    public_key = signing.public_key_bytes(settings)
    key_id = signing.current_key_id(settings)
    for row in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)):
        loaded.add(_document(row), public_key, key_id, f"stored at seq {row.seq}")
    directory = settings.audit_checkpoint_dir
    if directory is not None and directory.is_dir():
        for path in sorted(directory.glob("checkpoint-*.json")):
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError):
                loaded.problems.append(f"the checkpoint file {path.name} is unreadable")
                continue
            loaded.add(document, public_key, key_id, f"file {path.name}")
    return loaded


async def checkpoint_loop(settings: Settings) -> None:
    """Background task: a checkpoint every `audit_checkpoint_seconds` when the chain has grown."""
    while True:
        await asyncio.sleep(settings.audit_checkpoint_seconds)
        try:
            await asyncio.to_thread(write_checkpoint, settings)
        except Exception:  # a failing database must not end the loop; the next minute tries again
            log.exception("audit checkpoint failed")


def final_checkpoint(settings: Settings) -> None:
    """Shutdown hook: sign the head one last time so the last minute's events are covered too."""
    try:
        write_checkpoint(settings)
    except Exception:
        log.exception("final audit checkpoint failed")


lifecycle.KEY_MAKERS.append(signing.private_key)
lifecycle.BACKGROUND.append(("audit-checkpoints", checkpoint_loop))
lifecycle.SHUTDOWN.append(final_checkpoint)
