"""claims: several processes share the inbox (a claim per update, the chat it belongs to)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 10:00:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _lane(payload: str, update_id: int) -> str:
    """The same key as bot.intake.lane_key, for the updates still waiting (kept in step)."""
    data = json.loads(payload or "{}")
    for field in ("message", "edited_message"):
        if data.get(field):
            return f"chat:{data[field]['chat']['id']}"
    if data.get("callback_query"):
        return f"user:{data['callback_query']['from']['id']}"
    return f"update:{update_id}"


def upgrade() -> None:
    with op.batch_alter_table("inbox_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_inbox_updates_status_lane", ["status", "lane"], unique=False)
    bind = op.get_bind()
    waiting = bind.execute(
        sa.text("SELECT id, update_id, payload FROM inbox_updates WHERE status = 'pending'")
    ).all()
    for row in waiting:
        bind.execute(
            sa.text("UPDATE inbox_updates SET lane = :lane WHERE id = :id"),
            {"lane": _lane(row.payload, row.update_id), "id": row.id},
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_updates_status_lane")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("lane")
