"""Retention: per operation, how long the detail of its audit events is kept; archiving past it.

Archiving never deletes an event. For each operation past its retention it
1. exports the events to archive (JSON Lines with its signed manifest) into the archive directory,
   flushes the file to disk and verifies it offline, exactly as an auditor would;
2. lists those seqs in `audit_archived` under an `audit_archive` row naming the file and its SHA-256;
3. replaces each event's `details` with the marker `{"archived": true}` (the database trigger permits
   that and only that, only for seqs listed in step 2); the event keeps its `hash`, so the chain still
   links end to end and verify checks the kept hash for those events;
4. records `audit.archived` with the seqs, the file's SHA-256 and a digest of the redacted rows, so a
   later change to an archived row is still detected.
All of it happens in one transaction: if anything fails, no detail is removed.
"""

import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from app.audit import export
from app.audit.chain import ARCHIVED_DETAILS, canonical
from app.audit.models import AuditArchive, AuditArchived, AuditRetention
from app.audit.offline import verify_export
from app.audit.schemas import RetentionOut
from app.audit.service import AUDIT_TABLE, AuditFilter, iter_rows
from app.audit.writer import AuditAction, record
from app.auth.models import User
from app.core.config import Settings
from app.core.errors import Conflict
from app.core.permissions import Permission, ensure
from app.core.types import iso, utcnow
from app.operations.access import operation_access


def archive_dir(settings: Settings) -> Path:
    return settings.data_dir / "audit-archive"


def get_retention(*, session: Session, actor: User, operation_id: uuid.UUID) -> RetentionOut:
    ensure(actor.role, Permission.AUDIT_READ)
    operation_access(session, actor=actor, operation_id=operation_id)
    row = session.get(AuditRetention, operation_id)
    return RetentionOut(operation_id=str(operation_id), retain_days=row.retain_days if row else None,
                        updated_at=row.updated_at if row else None)


def set_retention(*, session: Session, actor: User, operation_id: uuid.UUID, retain_days: int | None) -> RetentionOut:
    ensure(actor.role, Permission.AUDIT_RETENTION)
    operation_access(session, actor=actor, operation_id=operation_id)
    row = session.get(AuditRetention, operation_id)
    before = row.retain_days if row else None
    if retain_days is None:
        if row is not None:
            session.delete(row)
    else:
        row = row or AuditRetention(operation_id=operation_id, retain_days=retain_days)
        row.retain_days, row.updated_at, row.updated_by = retain_days, utcnow(), actor.id
        session.add(row)
    record(session, actor=actor, action=AuditAction.AUDIT_RETENTION_SET, operation_id=operation_id,
           target_type="operation", target_id=operation_id, details={"from": before, "to": retain_days})
    session.flush()
    return RetentionOut(operation_id=str(operation_id), retain_days=retain_days,
                        updated_at=row.updated_at if retain_days is not None else utcnow())


@dataclass
class ArchiveResult:
    operation_id: str
    count: int
    file: Path
    sha256: str


def _system_exporter() -> User:
    """Archiving runs unattended (cron, `parley audit archive`): its manifests name the system."""
    return User(id=uuid.UUID(int=0), service_number="system", display_name="Parley retention archiving",
                role="system", password_hash="")


def archive_due(session: Session, *, settings: Settings, now: datetime | None = None,
                out_dir: Path | None = None) -> list[ArchiveResult]:
    """Archive every operation's events older than its retention; returns what was archived."""
    now = now or utcnow()
    results = []
    for retention in session.scalars(select(AuditRetention).order_by(AuditRetention.operation_id)).all():
        result = _archive_operation(session, settings=settings, retention=retention, now=now,
                                    out_dir=out_dir or archive_dir(settings))
        if result is not None:
            results.append(result)
    return results


def _archive_operation(session: Session, *, settings: Settings, retention: AuditRetention, now: datetime,
                       out_dir: Path) -> ArchiveResult | None:
    operation_id = str(retention.operation_id)
    cutoff = now - timedelta(days=retention.retain_days)
    done_upto = session.scalar(select(func.max(AuditArchive.last_seq))
                               .where(AuditArchive.operation_id == operation_id)) or 0
    filters = AuditFilter(operation_id=retention.operation_id, until=cutoff, from_seq=done_upto + 1)
    exporter = _system_exporter()
    plan = export.pin(session, filters=filters, fmt="jsonl")
    if plan.count == 0:
        return None
    path = _write_export(session, plan, settings=settings, exporter=exporter, out_dir=out_dir, now=now)
    verdict = verify_export(path, export.signing.public_key_bytes(settings))
    if not verdict.ok:  # never remove detail that is not safely exported
        raise Conflict(f"the archive export {path} did not verify: {verdict.findings[0]}")
    file_sha256 = _sha256_of(path)
    archive = AuditArchive(operation_id=operation_id, cutoff=cutoff, count=plan.count, first_seq=plan.first_seq,
                           last_seq=plan.last_seq, file_name=path.name, sha256=file_sha256)
    session.add(archive)
    session.flush()
    seqs = [event["seq"] for event in iter_rows(session, filters=plan.filters)]
    session.execute(insert(AuditArchived), [{"seq": seq, "archive_id": archive.id} for seq in seqs])
    # The JSON column writes the marker as '{"archived": true}', the exact text the trigger accepts.
    listed = select(AuditArchived.seq).where(AuditArchived.archive_id == archive.id)
    session.execute(update(AUDIT_TABLE).where(AUDIT_TABLE.c.seq.in_(listed)).values(details=ARCHIVED_DETAILS))
    redacted = hashlib.sha256()
    for event in iter_rows(session, filters=plan.filters):
        redacted.update(canonical(event) + b"\n")
    manifest_ranges = _ranges(seqs)
    # Not filed under the operation: the record of an archiving must never itself be archived (verify
    # reads the seqs and the digest from it).
    record(session, actor=None, actor_role="system", action=AuditAction.AUDIT_ARCHIVED,
           target_type="audit_archive", target_id=archive.id,
           details={"archive_id": str(archive.id), "operation_id": operation_id, "cutoff": iso(cutoff),
                    "retain_days": retention.retain_days,
                    "count": len(seqs), "seqs": manifest_ranges, "file_name": path.name,
                    "file_sha256": file_sha256, "redacted_sha256": redacted.hexdigest()})
    return ArchiveResult(operation_id=operation_id, count=len(seqs), file=path, sha256=file_sha256)


def _ranges(seqs: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for seq in seqs:
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def _write_export(session: Session, plan: export.ExportPlan, *, settings: Settings, exporter: User,
                  out_dir: Path, now: datetime) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{now.strftime('%Y%m%dT%H%M%SZ')}-{plan.file_name}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        for chunk in export.stream(plan, settings=settings, exporter=exporter, session=session):
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
