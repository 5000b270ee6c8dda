"""Rumour escalations, groups, attachments, history; the live_event table for SSE replay

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operation.id"],
            name=op.f("fk_live_event_operation_id_operation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_event")),
    )
    with op.batch_alter_table("live_event", schema=None) as batch_op:
        batch_op.create_index("ix_live_event_operation_id", ["operation_id", "id"], unique=False)

    op.create_table(
        "escalation_group",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("first_reported_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("latest_reported_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("ruling_note", sa.Text(), nullable=True),
        sa.Column("counter_template_id", sa.Uuid(), nullable=True),
        sa.Column("duplicate_of_id", sa.Uuid(), nullable=True),
        sa.Column("merged_into_id", sa.Uuid(), nullable=True),
        sa.Column("acknowledged_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("resolved_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user_account.id"],
            name=op.f("fk_escalation_group_assignee_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["counter_template_id"],
            ["template.id"],
            name=op.f("fk_escalation_group_counter_template_id_template"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["escalation_group.id"],
            name=op.f("fk_escalation_group_duplicate_of_id_escalation_group"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["escalation_group.id"],
            name=op.f("fk_escalation_group_merged_into_id_escalation_group"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operation.id"],
            name=op.f("fk_escalation_group_operation_id_operation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["user_account.id"],
            name=op.f("fk_escalation_group_resolved_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_group")),
    )
    with op.batch_alter_table("escalation_group", schema=None) as batch_op:
        batch_op.create_index(
            "ix_escalation_group_operation_status", ["operation_id", "status"], unique=False
        )

    op.create_table(
        "escalation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("reporter_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("observed_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("reported_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("text_key", sa.Text(), nullable=True),
        sa.Column("link_key", sa.String(length=512), nullable=True),
        sa.Column("short_link_key", sa.String(length=512), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["escalation_group.id"],
            name=op.f("fk_escalation_group_id_escalation_group"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operation.id"],
            name=op.f("fk_escalation_operation_id_operation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["user_account.id"],
            name=op.f("fk_escalation_reporter_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation")),
        sa.UniqueConstraint("reporter_id", "client_id", name=op.f("uq_escalation_reporter_id_client_id")),
    )
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalation_group_id"), ["group_id"], unique=False)
        batch_op.create_index("ix_escalation_operation_link", ["operation_id", "link_key"], unique=False)
        batch_op.create_index(
            "ix_escalation_operation_reported", ["operation_id", "reported_at"], unique=False
        )
        batch_op.create_index("ix_escalation_operation_updated", ["operation_id", "updated_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_escalation_reporter_id"), ["reporter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_escalation_short_link_key"), ["short_link_key"], unique=False)

    op.create_table(
        "escalation_attachment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("escalation_id", sa.Uuid(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalation.id"],
            name=op.f("fk_escalation_attachment_escalation_id_escalation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["user_account.id"],
            name=op.f("fk_escalation_attachment_uploaded_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_attachment")),
        sa.UniqueConstraint(
            "escalation_id",
            "original_sha256",
            name=op.f("uq_escalation_attachment_escalation_id_original_sha256"),
        ),
    )
    with op.batch_alter_table("escalation_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_escalation_attachment_escalation_id"), ["escalation_id"], unique=False
        )

    op.create_table(
        "escalation_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("escalation_id", sa.Uuid(), nullable=True),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user_account.id"],
            name=op.f("fk_escalation_history_actor_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalation.id"],
            name=op.f("fk_escalation_history_escalation_id_escalation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["escalation_group.id"],
            name=op.f("fk_escalation_history_group_id_escalation_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_history")),
    )
    with op.batch_alter_table("escalation_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_escalation_history_escalation_id"), ["escalation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_escalation_history_group_id"), ["group_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("escalation_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_history_group_id"))
        batch_op.drop_index(batch_op.f("ix_escalation_history_escalation_id"))

    op.drop_table("escalation_history")
    with op.batch_alter_table("escalation_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_attachment_escalation_id"))

    op.drop_table("escalation_attachment")
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_short_link_key"))
        batch_op.drop_index(batch_op.f("ix_escalation_reporter_id"))
        batch_op.drop_index("ix_escalation_operation_updated")
        batch_op.drop_index("ix_escalation_operation_reported")
        batch_op.drop_index("ix_escalation_operation_link")
        batch_op.drop_index(batch_op.f("ix_escalation_group_id"))

    op.drop_table("escalation")
    with op.batch_alter_table("escalation_group", schema=None) as batch_op:
        batch_op.drop_index("ix_escalation_group_operation_status")

    op.drop_table("escalation_group")
    with op.batch_alter_table("live_event", schema=None) as batch_op:
        batch_op.drop_index("ix_live_event_operation_id")

    op.drop_table("live_event")
