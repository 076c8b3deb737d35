"""projects: the ledger (台账) with the 五个一, members, progress updates, the entries' link
to a project, and pending button choices

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("planned_yuan", sa.BigInteger(), nullable=True),
        sa.Column("completed_yuan", sa.BigInteger(), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("expected_on", sa.Date(), nullable=True),
        sa.Column("above_scale_on", sa.Date(), nullable=True),
        sa.Column("key_level", sa.String(length=10), nullable=True),
        sa.Column("investor", sa.String(length=10), nullable=True),
        sa.Column("headquarters", sa.Boolean(), nullable=False),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("task_force", sa.String(length=200), nullable=True),
        sa.Column("secretary_id", sa.Integer(), nullable=True),
        sa.Column("last_update_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["people.id"], name=op.f("fk_projects_leader_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["secretary_id"], ["people.id"], name=op.f("fk_projects_secretary_id_people")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_projects_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_index(op.f("ix_projects_unit_id"), "projects", ["unit_id"])
    op.create_table(
        "project_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_project_members_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_project_members_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_members")),
        sa.UniqueConstraint(
            "project_id", "person_id", name=op.f("uq_project_members_project_id_person_id")
        ),
    )
    op.create_index(op.f("ix_project_members_person_id"), "project_members", ["person_id"])
    op.create_table(
        "project_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("completed_yuan", sa.BigInteger(), nullable=True),
        sa.Column("stage_before", sa.String(length=12), nullable=True),
        sa.Column("stage_after", sa.String(length=12), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_project_updates_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_project_updates_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["log_entries.id"], name=op.f("fk_project_updates_entry_id_log_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_updates")),
    )
    op.create_index("ix_project_updates_project_at", "project_updates", ["project_id", "at"])
    op.create_table(
        "pending_choices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_pending_choices_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_choices")),
    )
    op.create_index(op.f("ix_pending_choices_person_id"), "pending_choices", ["person_id"])
    with op.batch_alter_table("log_entries") as batch:
        batch.create_foreign_key(
            op.f("fk_log_entries_project_id_projects"), "projects", ["project_id"], ["id"]
        )
        batch.create_index(op.f("ix_log_entries_project_id"), ["project_id"])


def downgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_index(op.f("ix_log_entries_project_id"))
        batch.drop_constraint(op.f("fk_log_entries_project_id_projects"), type_="foreignkey")
    op.drop_index(op.f("ix_pending_choices_person_id"), table_name="pending_choices")
    op.drop_table("pending_choices")
    op.drop_index("ix_project_updates_project_at", table_name="project_updates")
    op.drop_table("project_updates")
    op.drop_index(op.f("ix_project_members_person_id"), table_name="project_members")
    op.drop_table("project_members")
    op.drop_index(op.f("ix_projects_unit_id"), table_name="projects")
    op.drop_table("projects")
