"""scheduler: conversations, monthly summaries, 5+2 forms, absence kinds, reminder
settings, reply priority in the outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 19:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_conversations_person_id_people")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "fivetwo_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=8), nullable=False),
        sa.Column("best", sa.Text(), nullable=False),
        sa.Column("weaker", sa.Text(), nullable=False),
        sa.Column("self_assessment", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_fivetwo_forms_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fivetwo_forms")),
        sa.UniqueConstraint(
            "person_id", "quarter", name=op.f("uq_fivetwo_forms_person_id_quarter")
        ),
    )
    op.create_table(
        "monthly_summaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_monthly_summaries_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_summaries")),
        sa.UniqueConstraint(
            "person_id", "month", name=op.f("uq_monthly_summaries_person_id_month")
        ),
    )
    with op.batch_alter_table("absences", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), nullable=False, server_default="other")
        )

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("reminds_of", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("document", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("document_name", sa.String(length=100), nullable=True))
        batch_op.drop_index(batch_op.f("ix_outbox_messages_status_due"))
        batch_op.create_index(
            "ix_outbox_messages_status_due", ["status", "priority", "not_before"], unique=False
        )

    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remind_at", sa.Time(), nullable=True))
        batch_op.add_column(
            sa.Column("second_nudge_muted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Replies waiting to go out keep going first.
    op.execute("UPDATE outbox_messages SET priority = 0 WHERE kind = 'reply'")


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("second_nudge_muted")
        batch_op.drop_column("remind_at")

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_status_due")
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_status_due"), ["status", "not_before"], unique=False
        )
        batch_op.drop_column("document_name")
        batch_op.drop_column("document")
        batch_op.drop_column("reminds_of")
        batch_op.drop_column("priority")

    with op.batch_alter_table("absences", schema=None) as batch_op:
        batch_op.drop_column("kind")

    op.drop_table("monthly_summaries")
    op.drop_table("fivetwo_forms")
    op.drop_table("conversations")
