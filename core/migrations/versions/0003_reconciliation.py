"""Crash recovery: where an order's row came from, and each start's reconciliation with the exchange

Revision ID: 0003
Revises: 0002_data_quality
Create Date: 2026-12-02 13:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002_data_quality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=16), nullable=True))
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("at_wall", sa.Float(), nullable=False),
        sa.Column("markets", sa.Integer(), nullable=False),
        sa.Column("adopted", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("external", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("reconciliations")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("origin")
