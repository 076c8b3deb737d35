"""channel-neutral entry sources, the outbox, blocked recipients, period indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=10), nullable=False, server_default="telegram")
        )
        batch_op.add_column(sa.Column("source_key", sa.String(length=100), nullable=True))
    # Every entry so far came from Telegram: its key is "chat:message".
    op.execute(
        "UPDATE log_entries SET source_key = CAST(source_chat_id AS VARCHAR) || ':' || "
        "CAST(source_message_id AS VARCHAR) "
        "WHERE source_chat_id IS NOT NULL AND source_message_id IS NOT NULL"
    )
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.alter_column("channel", server_default=None)
        batch_op.drop_constraint(
            "uq_log_entries_source_chat_id_source_message_id_source_part", type_="unique"
        )
        batch_op.drop_column("source_chat_id")
        batch_op.drop_column("source_message_id")
        batch_op.create_unique_constraint(
            batch_op.f("uq_log_entries_channel_source_key_source_part"),
            ["channel", "source_key", "source_part"],
        )
        # (person_id, work_date) repeated the leading columns of the (person, day, number) key.
        batch_op.drop_index("ix_log_entries_person_date")
        batch_op.create_index(
            "ix_log_entries_work_date_person", ["work_date", "person_id"], unique=False
        )

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bot_blocked_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("in_flight_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsure", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_outbox_messages_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_messages_key")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_status_due", ["status", "not_before"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_status_due")
    op.drop_table("outbox_messages")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("bot_blocked_at")
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("source_message_id", sa.BigInteger(), nullable=True))
    # Only Telegram keys map back; entries of other channels keep no source.
    op.execute(
        "UPDATE log_entries SET "
        "source_chat_id = CAST(substr(source_key, 1, instr(source_key, ':') - 1) AS BIGINT), "
        "source_message_id = CAST(substr(source_key, instr(source_key, ':') + 1) AS BIGINT) "
        "WHERE channel = 'telegram' AND source_key IS NOT NULL"
        if op.get_bind().dialect.name == "sqlite"
        else "UPDATE log_entries SET "
        "source_chat_id = split_part(source_key, ':', 1)::bigint, "
        "source_message_id = split_part(source_key, ':', 2)::bigint "
        "WHERE channel = 'telegram' AND source_key IS NOT NULL"
    )
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_log_entries_work_date_person")
        batch_op.create_index(
            "ix_log_entries_person_date", ["person_id", "work_date"], unique=False
        )
        batch_op.drop_constraint("uq_log_entries_channel_source_key_source_part", type_="unique")
        batch_op.drop_column("source_key")
        batch_op.drop_column("channel")
        batch_op.create_unique_constraint(
            "uq_log_entries_source_chat_id_source_message_id_source_part",
            ["source_chat_id", "source_message_id", "source_part"],
        )
