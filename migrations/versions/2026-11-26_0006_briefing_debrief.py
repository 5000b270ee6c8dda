"""Engagement permissions, commendations, appraisals

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operation_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("restrictions", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("rationale_decision_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_operation_document_rationale_decision_id_decision"), "decision",
            ["rationale_decision_id"], ["id"], ondelete="SET NULL",
        )
    with op.batch_alter_table("operation_document", schema=None) as batch_op:
        batch_op.alter_column("restrictions", server_default=None)

    op.create_table(
        "commendation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["user_account.id"],
                                name=op.f("fk_commendation_author_id_user_account"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["operation_id"], ["operation.id"],
                                name=op.f("fk_commendation_operation_id_operation"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commendation")),
    )
    with op.batch_alter_table("commendation", schema=None) as batch_op:
        batch_op.create_index("ix_commendation_operation_created", ["operation_id", "created_at"],
                              unique=False)

    op.create_table(
        "appraisal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["user_account.id"],
                                name=op.f("fk_appraisal_author_id_user_account"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["operation_id"], ["operation.id"],
                                name=op.f("fk_appraisal_operation_id_operation"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appraisal")),
    )
    with op.batch_alter_table("appraisal", schema=None) as batch_op:
        batch_op.create_index("ix_appraisal_operation_created", ["operation_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("appraisal", schema=None) as batch_op:
        batch_op.drop_index("ix_appraisal_operation_created")
    op.drop_table("appraisal")
    with op.batch_alter_table("commendation", schema=None) as batch_op:
        batch_op.drop_index("ix_commendation_operation_created")
    op.drop_table("commendation")
    with op.batch_alter_table("operation_document", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_operation_document_rationale_decision_id_decision"),
                                 type_="foreignkey")
        batch_op.drop_column("rationale_decision_id")
        batch_op.drop_column("restrictions")
