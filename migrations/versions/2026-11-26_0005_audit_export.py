"""Audit checkpoints and retention archive

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Retention archiving may replace an event's `details` with this marker, and nothing else, and only for
# a seq that `audit_archived` lists. Every other UPDATE (and every DELETE) stays refused, as in 0001.
MARKER = '{"archived": true}'
SAME_FIELDS = ("seq", "at", "actor_id", "actor_role", "operation_id", "action", "target_type", "target_id",
               "ip", "prev_hash", "hash")
APPEND_ONLY_TABLES = ("audit_checkpoint", "audit_archive", "audit_archived")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _create_guards() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_event_no_update" + (" ON audit_event" if _postgres() else ""))
    if _postgres():
        old = ", ".join(f"OLD.{name}" for name in SAME_FIELDS)
        new = ", ".join(f"NEW.{name}" for name in SAME_FIELDS)
        op.execute(f"""CREATE FUNCTION audit_event_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF ROW({new}) IS NOT DISTINCT FROM ROW({old})
                 AND NEW.details::text = '{MARKER}'
                 AND EXISTS (SELECT 1 FROM audit_archived WHERE audit_archived.seq = OLD.seq) THEN
                RETURN NEW;
              END IF;
              RAISE EXCEPTION 'audit_event is append-only';
            END $$""")
        op.execute("""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
                      FOR EACH ROW EXECUTE FUNCTION audit_event_guard_update()""")
        for table in APPEND_ONLY_TABLES:
            op.execute(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""")
        return
    same = " AND ".join(f"NEW.{name} IS OLD.{name}" for name in SAME_FIELDS)
    op.execute(f"""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
        WHEN NOT ({same} AND NEW.details = '{MARKER}'
                  AND EXISTS (SELECT 1 FROM audit_archived WHERE audit_archived.seq = OLD.seq))
        BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""")
    for table in APPEND_ONLY_TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""")


def _drop_guards() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_guard_update()")
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
                      FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""")
        return
    op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.execute("""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END""")


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_checkpoint_seq"), ["seq"], unique=False)

    op.create_table(
        "audit_retention",
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("retain_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["operation_id"], ["operation.id"],
                                name=op.f("fk_audit_retention_operation_id_operation"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("operation_id", name=op.f("pk_audit_retention")),
    )

    op.create_table(
        "audit_archive",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("cutoff", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_archive")),
    )
    with op.batch_alter_table("audit_archive", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_archive_operation_id"), ["operation_id"], unique=False)

    op.create_table(
        "audit_archived",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("archive_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["archive_id"], ["audit_archive.id"],
                                name=op.f("fk_audit_archived_archive_id_audit_archive")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_archived")),
    )
    with op.batch_alter_table("audit_archived", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_archived_archive_id"), ["archive_id"], unique=False)

    _create_guards()


def downgrade() -> None:
    _drop_guards()
    with op.batch_alter_table("audit_archived", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_archived_archive_id"))
    op.drop_table("audit_archived")
    with op.batch_alter_table("audit_archive", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_archive_operation_id"))
    op.drop_table("audit_archive")
    op.drop_table("audit_retention")
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoint_seq"))
    op.drop_table("audit_checkpoint")
