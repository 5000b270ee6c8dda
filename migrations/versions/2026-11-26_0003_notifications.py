"""Push subscriptions, notifications, inbox, deliveries (outbox)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.JSON(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=True),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("require_ack", sa.Boolean(), nullable=False),
        sa.Column("ack_within_seconds", sa.Integer(), nullable=True),
        sa.Column("ack_deadline_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("resent_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("expires_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operation.id"],
            name=op.f("fk_notification_operation_id_operation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["user_account.id"],
            name=op.f("fk_notification_sender_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_ack_due", ["ack_deadline_at", "resent_at"], unique=False)
        batch_op.create_index(
            "ix_notification_operation_created", ["operation_id", "created_at"], unique=False
        )

    op.create_table(
        "push_subscription",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("p256dh", sa.String(length=128), nullable=False),
        sa.Column("auth", sa.String(length=64), nullable=False),
        sa.Column("expiration_time", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("vapid_key_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("last_success_at", app.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_session.id"],
            name=op.f("fk_push_subscription_session_id_auth_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_push_subscription_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscription")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscription_endpoint")),
    )
    with op.batch_alter_table("push_subscription", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_subscription_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_push_subscription_user_id"), ["user_id"], unique=False)

    op.create_table(
        "notification_recipient",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("delivered_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("opened_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("resent_at", app.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_notification_recipient_notification_id_notification"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_notification_recipient_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_recipient")),
        sa.UniqueConstraint(
            "notification_id", "user_id", name=op.f("uq_notification_recipient_notification_id_user_id")
        ),
    )
    with op.batch_alter_table("notification_recipient", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_recipient_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notification_recipient_user_id"), ["user_id"], unique=False)

    op.create_table(
        "push_delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", app.core.types.UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("sent_at", app.core.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_push_delivery_notification_id_notification"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["notification_recipient.id"],
            name=op.f("fk_push_delivery_recipient_id_notification_recipient"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["push_subscription.id"],
            name=op.f("fk_push_delivery_subscription_id_push_subscription"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_delivery")),
        sa.UniqueConstraint(
            "notification_id",
            "subscription_id",
            "round",
            name=op.f("uq_push_delivery_notification_id_subscription_id_round"),
        ),
    )
    with op.batch_alter_table("push_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_push_delivery_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_push_delivery_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_push_delivery_recipient_id"), ["recipient_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_push_delivery_subscription_id"), ["subscription_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("push_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_delivery_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_push_delivery_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_push_delivery_notification_id"))
        batch_op.drop_index("ix_push_delivery_due")

    op.drop_table("push_delivery")
    with op.batch_alter_table("notification_recipient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_recipient_user_id"))
        batch_op.drop_index(batch_op.f("ix_notification_recipient_notification_id"))

    op.drop_table("notification_recipient")
    with op.batch_alter_table("push_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_subscription_user_id"))
        batch_op.drop_index(batch_op.f("ix_push_subscription_session_id"))

    op.drop_table("push_subscription")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_operation_created")
        batch_op.drop_index("ix_notification_ack_due")

    op.drop_table("notification")
