"""Watching a live or paper run: a status line every few seconds, and stopping once everything has settled."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from app.report import settled
from core.logformat import json_logging
from core.positions import positions

logger = logging.getLogger("paddock.watch")
status_log = logging.getLogger("paddock.status")


class RunWatch:
    """A status line every `interval` seconds; with until_closed, a stop once every market traded has closed and
    settled and the exchange offers no new one (asked with listMarketCatalogue for the strategies' filters)."""

    def __init__(
        self,
        framework,
        post: Callable[[Callable[[], None]], None],
        until_closed: bool = False,
        show: bool = True,
        out: TextIO | None = None,
    ) -> None:
        self.framework = framework
        self.post = post
        self.until_closed = until_closed
        self.show = show
        self.out = out or sys.stderr
        self.started = time.monotonic()
        self._all_settled = False  # as of the last status, computed on flumine's main thread

    def work(self, context=None, flumine=None) -> None:
        """The worker's call (on its own thread): ask for a status line; stop when everything is done."""
        self.post(self.status)
        if self.until_closed and self._all_settled and not self.exchange_offers_more():
            said = "every market has closed and settled, and the exchange offers no new one: stopping"
            if json_logging():
                status_log.info(said)
            else:
                print(said, file=self.out)
            self.framework.stop()

    def status(self) -> None:
        """Print one status line (on flumine's main thread, where the markets are safe to read)."""
        markets = list(self.framework.flumine.markets)
        closed = [m for m in markets if m.closed]
        in_play = [m for m in markets if not m.closed and m.market_book is not None and m.market_book.inplay]
        orders = [o for m in markets for o in m.blotter]
        matched = sum(1 for o in orders if o.size_matched > 0)
        done = [m for m in closed if settled(m)]
        pnl = sum(o.profit for m in done for o in m.blotter)
        exposure = sum(positions(m).exposure for m in markets if not m.closed and len(m.blotter))
        self._all_settled = bool(markets) and len(done) == len(markets)
        if not self.show:
            return
        switch = self.framework.safety.kill_switch
        if json_logging():  # one JSON object a line on stderr: the status is a log record with its figures
            fields = {"mode": str(self.framework.mode), "markets_open": len(markets) - len(closed),
                      "in_play": len(in_play), "closed": len(closed), "orders": len(orders), "matched": matched,
                      "settled_pnl": round(pnl, 2), "open_exposure": round(exposure, 2),
                      "kill_switch": str(switch.state)}  # fmt: skip
            status_log.info("status", extra=fields)
            return
        line = (
            f"paddock {self.framework.mode} {time.strftime('%H:%M:%S')} "
            f"up {int(time.monotonic() - self.started)}s | markets {len(markets) - len(closed)} open "
            f"({len(in_play)} in play), {len(closed)} closed | orders {len(orders)} placed, {matched} matched | "
            f"P&L {pnl:+.2f} settled, open exposure {exposure:.2f} | kill switch {switch.state}"
        )
        print(line, file=self.out, flush=True)

    def exchange_offers_more(self) -> bool:
        """Whether the exchange lists a market for the strategies' filters that this run has not seen close."""
        closed = {m.market_id for m in self.framework.flumine.markets if m.closed}
        filters = [entry.market_filter for entry in self.framework.config.app.strategies]
        return offers_more(self.framework.flumine.clients.get_default(), filters, closed)


def offers_more(client, filters, done: set[str]) -> bool:
    """Whether listMarketCatalogue lists, for any of the market filters, a market not in `done`."""
    try:
        for market_filter in filters:
            catalogues = client.betting_client.betting.list_market_catalogue(
                filter=market_filter.rest(), max_results=100
            )
            if any(c.market_id not in done for c in catalogues):
                return True
    except Exception as exc:  # noqa: BLE001 - not knowing means keep running
        logger.warning("cannot ask the exchange for new markets (%s): running on", exc)
        return True
    return False
