"""What a run's report needs to know besides its orders: mode, config, files, updates, market and runner names.

Taken from a framework that ran (paper, live, a backtest in one process), or merged from the event groups of a
parallel backtest in group order, so a run folder reads the same however the run was split."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from app.marketfacts import market_rows, runner_rows
from core.config import LoadedConfig


@dataclass
class RunFacts:
    """The facts of one run (or of one event group of it)."""

    mode: str
    config: LoadedConfig
    markets: pd.DataFrame  # markets.csv: names, scheduled start, when each closed
    runners: pd.DataFrame  # runners.csv: runner names
    files: list[str] = field(default_factory=list)
    files_left_out: dict[str, str] = field(default_factory=dict)
    updates: int = 0  # stream lines read (backtest)


def updates_read(framework) -> int:
    """Stream messages the run read: every line of every recording read (backtest); 0 where nothing counts them."""
    readers = {id(r): r for r in (getattr(s, "reader", None) for s in framework.flumine.streams) if r is not None}
    return sum(reader.lines_read for reader in readers.values())


def facts_of(framework) -> RunFacts:
    """The facts of a framework that has run."""
    markets = list(framework.flumine.markets)
    closed = {m: s.closed_at for m, s in framework.tracker.states.items()}
    return RunFacts(
        mode=str(framework.mode),
        config=framework.config,
        markets=market_rows(markets, closed),
        runners=runner_rows(markets),
        files=[str(r.path) for r in framework.recordings],
        files_left_out=dict(framework.unreadable),
        updates=updates_read(framework),
    )


def merge_facts(parts: list[RunFacts], config: LoadedConfig, files_left_out: dict[str, str]) -> RunFacts:
    """The facts of a backtest run as event groups: the groups' in group order."""
    markets = pd.concat([market_rows([], {}), *(p.markets for p in parts if not p.markets.empty)], ignore_index=True)
    runners = pd.concat([runner_rows([]), *(p.runners for p in parts if not p.runners.empty)], ignore_index=True)
    return RunFacts(
        mode="backtest",
        config=config,
        # as one framework orders them (app/marketfacts.py)
        markets=markets.sort_values("market_id", kind="stable").reset_index(drop=True),
        runners=runners.sort_values(["market_id", "selection_id"], kind="stable").reset_index(drop=True),
        files=[f for p in parts for f in p.files],
        files_left_out={**files_left_out, **{k: v for p in parts for k, v in p.files_left_out.items()}},
        updates=sum(p.updates for p in parts),
    )
