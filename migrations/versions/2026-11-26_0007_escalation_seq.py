"""Reports numbered in their operation; two redundant indexes dropped

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

Every report gets its number in its operation (1, 2, 3... in the order recorded): a report being grouped reads
the costly part of its candidates before it takes the operation's lock, then under the lock only what was
recorded since the number it saw. Existing reports are numbered in the order they were created.

`ix_escalation_reporter_id` and `ix_template_use_user_id` go: the unique (reporter_id, client_id) and
(user_id, client_id) indexes lead with the same column and serve the same lookups, and each report and render
paid for one more index entry.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute(  # one pass (UPDATE ... FROM: PostgreSQL, SQLite 3.33+)
        "UPDATE escalation SET seq = numbered.n FROM (SELECT id, row_number() OVER"
        " (PARTITION BY operation_id ORDER BY created_at, id) AS n FROM escalation) AS numbered"
        " WHERE numbered.id = escalation.id"
    )
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index("ix_escalation_operation_seq", ["operation_id", "seq"], unique=True)
        batch_op.drop_index("ix_escalation_reporter_id")
    with op.batch_alter_table("template_use", schema=None) as batch_op:
        batch_op.drop_index("ix_template_use_user_id")


def downgrade() -> None:
    with op.batch_alter_table("template_use", schema=None) as batch_op:
        batch_op.create_index("ix_template_use_user_id", ["user_id"], unique=False)
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.create_index("ix_escalation_reporter_id", ["reporter_id"], unique=False)
        batch_op.drop_index("ix_escalation_operation_seq")
        batch_op.drop_column("seq")
