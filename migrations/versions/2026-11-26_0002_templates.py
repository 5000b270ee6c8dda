"""Reply templates, versions, translations and uses

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "template",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=True),
        sa.Column("translation_of", sa.Uuid(), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("live_version_id", sa.Uuid(), nullable=True),
        sa.Column("imported", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("retired_at", app.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_template_author_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operation.id"],
            name=op.f("fk_template_operation_id_operation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["translation_of"],
            ["template.id"],
            name=op.f("fk_template_translation_of_template"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template")),
    )
    with op.batch_alter_table("template", schema=None) as batch_op:
        batch_op.create_index("ix_template_operation_status", ["operation_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_template_translation_of"), ["translation_of"], unique=False)

    op.create_table(
        "template_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("submitted_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("expires_at", app.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_template_version_author_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["user_account.id"],
            name=op.f("fk_template_version_reviewed_by_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["template.id"],
            name=op.f("fk_template_version_template_id_template"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_version")),
        sa.UniqueConstraint("template_id", "number", name=op.f("uq_template_version_template_id_number")),
    )
    with op.batch_alter_table("template_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_template_version_template_id"), ["template_id"], unique=False)

    op.create_table(
        "template_use",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("slot_values", sa.JSON(), nullable=False),
        sa.Column("in_reply_to", sa.String(length=2048), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("group_name", sa.String(length=64), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operation.id"],
            name=op.f("fk_template_use_operation_id_operation"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["template.id"],
            name=op.f("fk_template_use_template_id_template"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_template_use_user_id_user_account"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["template_version.id"],
            name=op.f("fk_template_use_version_id_template_version"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_template_use")),
        sa.UniqueConstraint("user_id", "client_id", name=op.f("uq_template_use_user_id_client_id")),
    )
    with op.batch_alter_table("template_use", schema=None) as batch_op:
        batch_op.create_index(
            "ix_template_use_operation_created", ["operation_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_template_use_operation_template", ["operation_id", "template_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_template_use_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("template_use", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_template_use_user_id"))
        batch_op.drop_index("ix_template_use_operation_template")
        batch_op.drop_index("ix_template_use_operation_created")
    op.drop_table("template_use")
    with op.batch_alter_table("template_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_template_version_template_id"))
    op.drop_table("template_version")
    with op.batch_alter_table("template", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_template_translation_of"))
        batch_op.drop_index("ix_template_operation_status")
    op.drop_table("template")
