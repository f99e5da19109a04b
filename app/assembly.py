"""The one place that chooses the mode: build() hands each mode to its builder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from app.backtest import build_backtest
from app.framework import Framework, Mode
from app.live import build_exchange, kill_switch_path
from app.plugins import PluginRegistry, discover
from app.recorder import RecorderRun
from app.recorder import build_recorder as _build_recorder
from core.config import LoadedConfig
from core.exchange import ExchangeEndpoint

__all__ = ["Framework", "Mode", "build", "build_recorder", "exchange_endpoint", "kill_switch_path"]


def build(
    mode: Mode,
    config: LoadedConfig,
    *,
    paths: list[str | Path] | None = None,
    registry: PluginRegistry | None = None,
    raise_hook_errors: bool = False,
    environ: Mapping[str, str] | None = None,
    exchange: str | None = None,
    until_closed: bool = False,
    strict: bool = False,
    metrics_port: int | None = None,
    chronological: bool = False,
) -> Framework:
    """Assemble the framework for a mode; the only place a mode is chosen.

    `exchange` (or `[exchange] url`) points live and paper at a local exchange instead of Betfair;
    `until_closed` stops them once every market traded has closed and settled and no new one is offered;
    `strict` stops a backtest at the first bad recording line instead of skipping it; `chronological` replays
    every market of a backtest in one publish-time order; `metrics_port` serves live and paper's Prometheus
    metrics on 127.0.0.1 (0: any free port)."""
    registry = registry or discover()
    if mode == Mode.BACKTEST:
        return build_backtest(config, registry, paths, raise_hook_errors, strict, chronological=chronological)
    env = environ if environ is not None else os.environ
    endpoint = exchange_endpoint(config, exchange)
    return build_exchange(mode, config, registry, raise_hook_errors, env, endpoint, until_closed, metrics_port)


def build_recorder(
    config: LoadedConfig,
    *,
    out_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    exchange: str | None = None,
    until_closed: bool = False,
    metrics_port: int | None = None,
) -> RecorderRun:
    """Assemble `record`: the market stream of `[record] market_filter`, one recording per market."""
    env = environ if environ is not None else os.environ
    return _build_recorder(config, exchange_endpoint(config, exchange), env, out_dir, until_closed, metrics_port)


def exchange_endpoint(config: LoadedConfig, exchange: str | None) -> ExchangeEndpoint | None:
    """The local exchange from --exchange or the config, or None for real Betfair."""
    if exchange:
        return ExchangeEndpoint.parse(exchange)
    if config.app.exchange.url:
        return ExchangeEndpoint.parse(config.app.exchange.url, f"{config.path}: key 'exchange.url'")
    return None
