"""Paper and live start: what the audit store says this mode's earlier runs left, set against the state files.

The kill switch's working state stays in data_dir/<mode>/killswitch.json (the CLI's trips and resets reach a
running bot through it); the store holds every change a bot made. At start the newest change across both wins,
and when the store's newest is a trip the file does not have (lost, replaced, another machine's data_dir) the
switch is tripped again: in doubt it stays tripped. Changes only the file has (a `kill-switch reset` made while no
bot ran) are written to the store, so the two agree. Today's realised P&L is the store's per market; a market
only the day book has is kept, and where the two differ the larger loss counts. Paper's open positions (its
simulated orders end with the process) count against the exposure limits from the store's rows; live takes its
positions from the exchange (app/reconcile.py)."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import TextIO

from app.framework import Framework
from app.storestate import TRIPPED, StoreState
from controls.daybook import day_of
from controls.killswitch import TradingState
from controls.risk import RiskControl
from core.positions import worst_case_loss

logger = logging.getLogger("paddock.recovery")


def restore(framework: Framework, state: StoreState, carry_exposure: bool, out: TextIO | None = None) -> None:
    """Restore the kill switch and today's realised P&L from the store (StoreError when it cannot be read), and
    with carry_exposure (paper, whose simulated orders die with the process) the open positions' exposure."""
    out = out or sys.stderr
    _restore_kill_switch(framework, state, out)
    _restore_day(framework, state, out)
    if carry_exposure:
        _restore_exposure(framework, state, out)


def _restore_exposure(framework: Framework, state: StoreState, out: TextIO) -> None:
    carried = {}
    for market_id, (matched, unmatched, runners) in state.open_positions().items():
        loss = round(worst_case_loss(matched, unmatched, runners), 2)
        if loss > 0:
            carried[market_id] = loss
    if not carried:
        return
    for control in framework.flumine.trading_controls:
        if isinstance(control, RiskControl):
            control.carried.update(carried)
    line = (
        f"restored open positions from the audit store: worst-case loss {sum(carried.values()):.2f} over "
        f"{len(carried)} market(s), counted against the exposure limits until they close"
    )
    print(line, file=out, flush=True)
    logger.warning("%s", line)


def _restore_kill_switch(framework: Framework, state: StoreState, out: TextIO) -> None:
    switch = framework.safety.kill_switch
    stored = state.last_kill_change()
    if stored is None:
        return
    known = [c for c in switch.history if c.at >= stored.at]
    if stored.state in TRIPPED and not known:
        when = dt.datetime.fromtimestamp(stored.at, dt.UTC).isoformat(timespec="seconds")
        reason = (
            f"the audit store's last kill-switch change (run {stored.run_id}, {when}, {stored.state} by "
            f"{stored.source}: {stored.reason}) is missing from the state file"
        )
        print(f"kill switch: {reason}; it stays {stored.state}", file=out, flush=True)
        switch.trip(reason, source="store", state=TradingState(stored.state))
        return
    audit = framework.audit
    for change in switch.history:
        if change.at > stored.at and audit is not None:
            audit.recorder.kill_switch(change, None)  # made while no bot ran: the store learns of it


def _restore_day(framework: Framework, state: StoreState, out: TextIO) -> None:
    layer = framework.safety
    day = day_of(framework.clock.now())
    stored = state.realised(day)
    book = dict(layer.daybook.settled)
    merged = dict(stored)
    differ = []
    for market_id, value in book.items():
        if market_id in stored and abs(stored[market_id] - value) > 0.005:
            differ.append(market_id)
        merged[market_id] = min(value, stored.get(market_id, value))
    if not merged:
        return
    layer.pnl.carried = dict(merged)
    layer.daybook.settled = dict(merged)
    total = sum(merged.values())
    line = f"restored today's ({day}) realised P&L from the audit store: {total:+.2f} over {len(merged)} market(s)"
    if differ:
        line += f"; the day book differs on {len(differ)} market(s) ({', '.join(differ[:5])}): the larger loss counts"
    print(line, file=out, flush=True)
    logger.warning("%s", line)
