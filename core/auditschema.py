"""The audit store's tables (SQLAlchemy Core); the Alembic migrations in core/migrations create them.

Times are epoch seconds: `*_wall` the machine's clock, the others market time (the project clock). Enough is
kept for a restart to restore from: kill-switch events, realised P&L by exchange (UTC) day, and every order
with its status and matched size."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mode", String(16), nullable=False),
    Column("config_text", Text, nullable=False),  # the config file, any database password masked
    Column("config_hash", String(64), nullable=False),  # sha256 of the file as read
    Column("version", String(32), nullable=False),
    Column("sources", Text, nullable=False),  # JSON: recordings replayed (backtest) or market filters (live, paper)
    Column("started_wall", Float, nullable=False),
    Column("ended_wall", Float),
    Column("outcome", String(200)),  # completed, stopped, failed: ...; NULL while running (or killed)
)

markets = Table(
    "markets",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("market_id", String(32), primary_key=True),
    Column("event_id", String(32)),
    Column("event_name", String(200)),
    Column("event_type_id", String(16)),
    Column("market_type", String(64)),
    Column("market_name", String(200)),
    Column("market_start", Float),
    Column("runners", Text),  # JSON: selection id -> name
    Column("winners", Text),  # JSON: selection ids
    Column("closed", Boolean, nullable=False, default=False),
    Column("settled", Boolean, nullable=False, default=False),
)

orders = Table(
    "orders",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("order_id", String(64), primary_key=True),  # flumine's order id
    Column("seq", Integer, nullable=False),  # the run's orders in the order they were placed
    Column("bet_id", String(32)),
    Column("customer_ref", String(64)),  # the customerOrderRef sent with placeOrders
    Column("strategy", String(100), nullable=False),
    Column("market_id", String(32), nullable=False),
    Column("event_id", String(32)),
    Column("market_type", String(64)),
    Column("selection_id", BigInteger, nullable=False),
    Column("handicap", Float),
    Column("side", String(8), nullable=False),
    Column("order_type", String(16), nullable=False),
    Column("persistence", String(16)),
    Column("price", Float),
    Column("size", Float),
    Column("hedge", Boolean, nullable=False, default=False),
    Column("placed_at", String(40), nullable=False),  # market time, ISO (as orders.csv)
    Column("placed_wall", Float, nullable=False),
    Column("note", Text),  # the strategy's notes on the order (JSON), if any
    Column("status", String(32)),
    Column("size_matched", Float, nullable=False, default=0.0),
    Column("average_price_matched", Float),
    Column("size_cancelled", Float, nullable=False, default=0.0),
    Column("size_lapsed", Float, nullable=False, default=0.0),
    Column("size_voided", Float, nullable=False, default=0.0),
    Column("runner_status", String(32)),
    Column("profit", Float, nullable=False, default=0.0),
    Column("origin", String(16)),  # NULL: placed by this run; "adopted": found on the exchange at a start, unknown here
)
Index("ix_orders_market", orders.c.market_id)

order_events = Table(
    "order_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("at_wall", Float, nullable=False),
    Column("status", String(32)),
    Column("size_matched", Float, nullable=False),
    Column("average_price_matched", Float),
    Column("error_code", String(64)),
    Column("reason", Text),
)
Index("ix_order_events_order", order_events.c.run_id, order_events.c.order_id)

kill_switch_events = Table(
    "kill_switch_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("at", Float, nullable=False),  # the switch's own time (wall time live and paper)
    Column("action", String(8), nullable=False),  # trip or reset
    Column("state", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("event_id", String(32)),  # backtest: the event being replayed
)

refusals = Table(
    "refusals",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("market_id", String(32), primary_key=True),
    Column("strategy", String(100), primary_key=True),
    Column("reason", String(300), primary_key=True),  # figures replaced by '#', as the report counts them
    Column("count", Integer, nullable=False),
    Column("example", Text, nullable=False),  # the latest reason in full
    Column("first_at", Float, nullable=False),
    Column("last_at", Float, nullable=False),
)

data_quality_events = Table(
    "data_quality_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("at", Float, nullable=False),  # market time
    Column("at_wall", Float, nullable=False),
    Column("market_id", String(32), nullable=False),
    Column("event_id", String(32)),
    Column("action", String(8), nullable=False),  # pause or resume
    Column("causes", String(200), nullable=False),  # comma-separated: publish_lag, book, stalled, stream_notices ...
    Column("reason", Text, nullable=False),
)
Index("ix_data_quality_events_market", data_quality_events.c.run_id, data_quality_events.c.market_id)

pnl = Table(
    "pnl",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("market_id", String(32), primary_key=True),
    Column("strategy", String(100), primary_key=True),
    Column("day", String(10), nullable=False),  # the exchange (UTC) day the market settled, market time
    Column("gross", Float, nullable=False),
    Column("commission", Float, nullable=False),
    Column("net", Float, nullable=False),
    Column("settled_at", Float, nullable=False),
)
Index("ix_pnl_day", pnl.c.day)

reconciliations = Table(
    "reconciliations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("at_wall", Float, nullable=False),
    Column("markets", Integer, nullable=False),  # markets asked about
    Column("adopted", Integer, nullable=False),  # on the exchange, unknown to the store: taken into its strategy
    Column("closed", Integer, nullable=False),  # open in the store, gone from the exchange: final state from cleared
    Column("unchanged", Integer, nullable=False),  # known to the store and still on the exchange
    Column("external", Integer, nullable=False),  # on the exchange, not ours (or not adopted, by config)
    Column("missing", Integer, nullable=False),  # open in the store, neither current nor cleared on the exchange
    Column("line", Text, nullable=False),  # the line printed at start
)

run_latency = Table(
    "run_latency",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("stage", String(32), primary_key=True),  # core.latency.STAGES: publish_to_received ... to_matched
    Column("count", Integer, nullable=False),
    Column("p50", Float),  # wall seconds; NULL when the stage had no sample
    Column("p95", Float),
    Column("p99", Float),
    Column("max", Float),
)
