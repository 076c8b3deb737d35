"""scoring: ratings and their per-unit caps, unit categories, roster join dates, quality
flags on log entries, reminders by day

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=8), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=10), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_ratings_person_id_people")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_ratings_unit_id_units")),
        sa.ForeignKeyConstraint(
            ["rater_id"], ["people.id"], name=op.f("fk_ratings_rater_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("person_id", "quarter", name=op.f("uq_ratings_person_id_quarter")),
    )
    op.create_index("ix_ratings_unit_quarter", "ratings", ["unit_id", "quarter"])
    op.create_table(
        "rating_caps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=8), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_rating_caps_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_caps")),
        sa.UniqueConstraint("unit_id", "quarter", name=op.f("uq_rating_caps_unit_id_quarter")),
    )
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("category", sa.String(length=100), nullable=True))
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("joined_on", sa.Date(), nullable=True))
    with op.batch_alter_table("log_entries") as batch:
        batch.add_column(sa.Column("quality", sa.String(length=100), nullable=True))
    op.create_index("ix_outbox_messages_reminds_of", "outbox_messages", ["reminds_of", "person_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_reminds_of", table_name="outbox_messages")
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("quality")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("joined_on")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("category")
    op.drop_table("rating_caps")
    op.drop_index("ix_ratings_unit_quarter", table_name="ratings")
    op.drop_table("ratings")
