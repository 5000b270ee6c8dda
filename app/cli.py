"""The `parley` command."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from app.core.config import get_settings

cli = typer.Typer(help="Parley: approved replies, rumour escalation and push messages, on record.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
audit_cli = typer.Typer(help="The audit log: verify, export checks, keys.", no_args_is_help=True)
vapid_cli = typer.Typer(help="Web Push (VAPID) keys.", no_args_is_help=True)
cli.add_typer(audit_cli, name="audit")
cli.add_typer(vapid_cli, name="vapid")


def _migrate() -> None:
    from app.core.migrations import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)


@cli.command()
def migrate() -> None:
    """Apply every pending database migration (upgrade to head)."""
    _migrate()
    typer.echo("database is at the latest schema")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo data first and print its users")] = False,
) -> None:
    """Apply pending migrations, then serve the API and the PWA."""
    import uvicorn

    from app.core import lifecycle

    _migrate()
    lifecycle.prepare_keys(get_settings())
    if demo:
        _run_demo()
    typer.echo(f"Parley is listening on http://{host}:{port}/")
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=True, log_config=None, access_log=False)


@cli.command("create-user")
def create_user(
    service_number: Annotated[str, typer.Option("--service-number", help="The officer's service number")],
    name: Annotated[str, typer.Option("--name", help="Display name")],
    role: Annotated[str, typer.Option("--role", help="officer, bronze, gold, comms, auditor or admin")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create an account (the way to make the first admin)."""
    from pydantic import ValidationError

    from app.auth import service
    from app.auth.schemas import UserCreate
    from app.core.db import session_scope
    from app.core.errors import AppError

    if not password_stdin:
        typer.echo("give the password on stdin with --password-stdin", err=True)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\r\n")
    _migrate()
    try:
        data = UserCreate(service_number=service_number, display_name=name, role=role, password=password)
        with session_scope() as session:
            user = service.create_user(session=session, settings=get_settings(), actor=None, data=data)
            typer.echo(f"created {user.role} {user.service_number} ({user.id})")
    except ValidationError as exc:
        typer.echo(f"invalid: {exc.errors()[0]['loc'][-1]}: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from exc
    except AppError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(1) from exc


def _run_demo() -> None:
    from app import demo as demo_data

    settings = get_settings()
    if settings.env == "production":
        typer.echo("refusing to load demo data with PARLEY_ENV=production", err=True)
        raise typer.Exit(2)
    typer.echo(demo_data.load(settings))


@cli.command()
def demo() -> None:
    """Load demo data (idempotent) and print the demo accounts. Refused in production."""
    _migrate()
    _run_demo()


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check the whole chain in the database and against the signed checkpoints; exit 1 on the first bad event."""
    from app.audit.service import verify_chain

    verdict = verify_chain(None, get_settings())  # reads in short transactions: writers are not held up
    typer.echo(verdict.model_dump_json(indent=2))
    raise typer.Exit(0 if verdict.ok else 1)


@audit_cli.command("verify-export")
def audit_verify_export(
    file: Annotated[Path, typer.Argument(help="the export (.jsonl or .csv)", exists=True, dir_okay=False)],
    public_key: Annotated[str, typer.Option("--public-key", help="the audit public key, or a file holding it")],
    manifest: Annotated[Path | None, typer.Option("--manifest", help="the manifest (needed for CSV)",
                                                  exists=True, dir_okay=False)] = None,
) -> None:
    """Verify an export offline: signature, byte hash, every event's hash, continuity. No database needed."""
    from app.audit.offline import load_public_key, verify_export

    try:
        key = load_public_key(public_key)
    except ValueError as exc:
        typer.echo(f"FAILED\n  - {exc}", err=True)
        raise typer.Exit(2) from exc
    verdict = verify_export(file, key, manifest)
    typer.echo(verdict.summary())
    raise typer.Exit(0 if verdict.ok else 1)


@audit_cli.command("public-key")
def audit_public_key() -> None:
    """Print the audit public key (base64url, raw Ed25519) for out-of-band distribution to auditors."""
    from app.audit import signing

    settings = get_settings()
    typer.echo(signing.public_key_b64(settings))
    typer.echo(f"key id {signing.current_key_id(settings)}", err=True)


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the chain head now (the server also does so every minute and on shutdown)."""
    from app.audit.checkpoints import write_checkpoint

    row = write_checkpoint(get_settings())
    typer.echo(f"checkpoint at seq {row.seq}" if row else "no new events since the last checkpoint")


@audit_cli.command("archive")
def audit_archive(
    out: Annotated[Path | None, typer.Option("--out", help="where archive exports go (default: data dir)")] = None,
) -> None:
    """Archive audit detail past each operation's retention: export and verify first, then redact."""
    from app.audit.retention import archive_due
    from app.core.db import session_scope

    with session_scope() as session:
        results = archive_due(session, settings=get_settings(), out_dir=out)
    for result in results:
        typer.echo(f"operation {result.operation_id}: {result.count} events archived to {result.file} "
                   f"(sha256 {result.sha256})")
    if not results:
        typer.echo("nothing is past its retention")


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Push requests in flight")] = 32,
    batch: Annotated[int, typer.Option(min=1, max=5000, help="Outbox rows claimed at a time")] = 200,
    lanes: Annotated[int, typer.Option(min=1, max=16, help="Claim/encrypt/send pipelines")] = 3,
    lease: Annotated[float, typer.Option(min=1, help="Seconds a claim lasts before another worker may take it")] = 60,
    once: Annotated[bool, typer.Option("--once", help="Send what is due now, then exit")] = False,
) -> None:
    """Run a push dispatcher process (PostgreSQL; start several to share a large fan-out)."""
    from app.notifications.dispatcher import DispatcherOptions, run_worker

    settings = get_settings()
    if settings.is_sqlite:
        typer.echo("parley worker needs PostgreSQL; on SQLite the dispatcher runs inside `parley serve`.", err=True)
        raise typer.Exit(2)
    options = DispatcherOptions(concurrency=concurrency, batch_size=batch, lanes=lanes, lease_seconds=lease)
    stats = run_worker(settings, options, once=once)
    if stats is not None:
        typer.echo(f"sent {stats.sent}, retrying {stats.retried}, failed {stats.failed}, gone {stats.gone}, "
                   f"cancelled {stats.cancelled}")


@vapid_cli.command("public-key")
def vapid_public_key() -> None:
    """Print the VAPID public key (the browser's applicationServerKey, base64url)."""
    from app.notifications.vapid import ensure_vapid_key, public_key_b64

    settings = get_settings()
    ensure_vapid_key(settings)
    typer.echo(public_key_b64(settings))


@vapid_cli.command("rotate")
def vapid_rotate() -> None:
    """Make a new VAPID key pair in the data directory (keeps the old file beside it).

    Then restart `parley serve` and every `parley worker`. Existing subscriptions were made with the old key:
    their push services refuse it (401/403) and the dispatcher removes each one at its first refused push.
    The app compares GET /api/v1/push/vapid-public-key with its subscription's applicationServerKey on every
    start and, when they differ, unsubscribes and subscribes again, so officers are re-subscribed the next
    time they open Parley. Until then they still see every message in the in-app inbox.
    """
    from app.notifications.vapid import rotate

    try:
        rotation = rotate(get_settings())
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"new VAPID public key: {rotation.new_public_key} (key id {rotation.new_key_id})")
    if rotation.kept_old_key_at:
        typer.echo(f"old key {rotation.old_key_id} kept at {rotation.kept_old_key_at}")
    typer.echo("Restart `parley serve` and all `parley worker` processes. Phones re-subscribe with the new key "
               "the next time the app starts; old subscriptions are removed at their first refused push.")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
