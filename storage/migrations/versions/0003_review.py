"""supervisor review: spot checks, comments, evaluations, audit index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 18:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("positive", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_comments_author_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["people.id"], name=op.f("fk_comments_subject_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_comments_subject_created", ["subject_id", "created_at"], unique=False
        )

    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(length=8), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_evaluations_author_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["people.id"], name=op.f("fk_evaluations_subject_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
        sa.UniqueConstraint(
            "subject_id", "quarter", name=op.f("uq_evaluations_subject_id_quarter")
        ),
    )
    op.create_table(
        "spot_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checker_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checker_id"], ["people.id"], name=op.f("fk_spot_checks_checker_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["people.id"], name=op.f("fk_spot_checks_subject_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_checks")),
    )
    with op.batch_alter_table("spot_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spot_checks_checker_id"), ["checker_id"], unique=False)

    op.create_table(
        "spot_check_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.String(length=100), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=True),
        sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remark", sa.Text(), nullable=True),
        sa.Column("remarked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["check_id"], ["spot_checks.id"], name=op.f("fk_spot_check_items_check_id_spot_checks")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["log_entries.id"], name=op.f("fk_spot_check_items_entry_id_log_entries")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_spot_check_items_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spot_check_items")),
        sa.UniqueConstraint(
            "check_id", "entry_id", name=op.f("uq_spot_check_items_check_id_entry_id")
        ),
    )
    with op.batch_alter_table("spot_check_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spot_check_items_person_id"), ["person_id"], unique=False
        )

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("command", sa.String(length=30), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_audit_log_actor_person_id"), ["actor_person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_log_subject_person_id"), ["subject_person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_subject_person_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_actor_person_id"))
        batch_op.drop_column("command")

    with op.batch_alter_table("spot_check_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spot_check_items_person_id"))

    op.drop_table("spot_check_items")
    with op.batch_alter_table("spot_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spot_checks_checker_id"))

    op.drop_table("spot_checks")
    op.drop_table("evaluations")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_subject_created")

    op.drop_table("comments")
