"""Data-quality pauses and resumes: one row each

Revision ID: 0002_data_quality
Revises: 0001
Create Date: 2026-12-02 13:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_data_quality"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "data_quality_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("at_wall", sa.Float(), nullable=False),
        sa.Column("market_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("causes", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("data_quality_events", schema=None) as batch_op:
        batch_op.create_index("ix_data_quality_events_market", ["run_id", "market_id"], unique=False)


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("data_quality_events", schema=None) as batch_op:
        batch_op.drop_index("ix_data_quality_events_market")
    op.drop_table("data_quality_events")
