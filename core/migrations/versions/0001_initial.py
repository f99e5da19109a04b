"""Initial schema: runs, markets, orders, order events, kill-switch events, refusals, P&L

Revision ID: 0001
Revises:
Create Date: 2026-12-02 07:42:59.897694
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("config_text", sa.Text(), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.Column("started_wall", sa.Float(), nullable=False),
        sa.Column("ended_wall", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "kill_switch_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "markets",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("event_name", sa.String(length=200), nullable=True),
        sa.Column("event_type_id", sa.String(length=16), nullable=True),
        sa.Column("market_type", sa.String(length=64), nullable=True),
        sa.Column("market_name", sa.String(length=200), nullable=True),
        sa.Column("market_start", sa.Float(), nullable=True),
        sa.Column("runners", sa.Text(), nullable=True),
        sa.Column("winners", sa.Text(), nullable=True),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("run_id", "market_id"),
    )
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("at_wall", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("size_matched", sa.Float(), nullable=False),
        sa.Column("average_price_matched", sa.Float(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index("ix_order_events_order", ["run_id", "order_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("bet_id", sa.String(length=32), nullable=True),
        sa.Column("customer_ref", sa.String(length=64), nullable=True),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("market_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=True),
        sa.Column("market_type", sa.String(length=64), nullable=True),
        sa.Column("selection_id", sa.BigInteger(), nullable=False),
        sa.Column("handicap", sa.Float(), nullable=True),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("order_type", sa.String(length=16), nullable=False),
        sa.Column("persistence", sa.String(length=16), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("size", sa.Float(), nullable=True),
        sa.Column("hedge", sa.Boolean(), nullable=False),
        sa.Column("placed_at", sa.String(length=40), nullable=False),
        sa.Column("placed_wall", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("size_matched", sa.Float(), nullable=False),
        sa.Column("average_price_matched", sa.Float(), nullable=True),
        sa.Column("size_cancelled", sa.Float(), nullable=False),
        sa.Column("size_lapsed", sa.Float(), nullable=False),
        sa.Column("size_voided", sa.Float(), nullable=False),
        sa.Column("runner_status", sa.String(length=32), nullable=True),
        sa.Column("profit", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("run_id", "order_id"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_market", ["market_id"], unique=False)

    op.create_table(
        "pnl",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.String(length=32), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("gross", sa.Float(), nullable=False),
        sa.Column("commission", sa.Float(), nullable=False),
        sa.Column("net", sa.Float(), nullable=False),
        sa.Column("settled_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("run_id", "market_id", "strategy"),
    )
    with op.batch_alter_table("pnl", schema=None) as batch_op:
        batch_op.create_index("ix_pnl_day", ["day"], unique=False)

    op.create_table(
        "refusals",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.String(length=32), nullable=False),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("example", sa.Text(), nullable=False),
        sa.Column("first_at", sa.Float(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
        ),
        sa.PrimaryKeyConstraint("run_id", "market_id", "strategy", "reason"),
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_table("refusals")
    with op.batch_alter_table("pnl", schema=None) as batch_op:
        batch_op.drop_index("ix_pnl_day")

    op.drop_table("pnl")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_market")

    op.drop_table("orders")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index("ix_order_events_order")

    op.drop_table("order_events")
    op.drop_table("markets")
    op.drop_table("kill_switch_events")
    op.drop_table("runs")
