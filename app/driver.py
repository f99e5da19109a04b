"""The layer driver: a flumine strategy added after the user's, so flumine's own dispatch drives the layer."""

from __future__ import annotations

from flumine import BaseStrategy

from controls.layer import SafetyLayer
from core.clock import Clock
from core.marketstate import MarketStates
from strategies.base import ModalStrategy


class LayerDriver(BaseStrategy):
    """Runs after every strategy has seen a book: delivers hook notices still owed, then sends what was queued.

    It also closes markets: flumine gives CLOSED books to strategies only (no middleware), so this is where
    the market states learn of the close and the layer settles the market's P&L."""

    def __init__(self, layer: SafetyLayer, tracker: MarketStates, clock: Clock, strategies: list, streams: list):
        super().__init__(streams=streams, name="paddock_layer_driver")
        self.layer = layer
        self.tracker = tracker
        self.clock = clock
        self.modal = [s for s in strategies if isinstance(s, ModalStrategy)]
        self._notices_seen = 0
        self.finish_listeners: list = []  # called when flumine finishes, before its logging controls stop
        self.start_listeners: list = []  # called when flumine starts: logged in, before its streams start

    def start(self, flumine) -> None:
        """flumine is starting (main thread, logged in, no stream yet): tell who asked (live reconciliation)."""
        for listener in self.start_listeners:
            listener()

    def finish(self, flumine) -> None:
        """flumine is stopping: tell who asked (the audit store writes every order's last state)."""
        for listener in self.finish_listeners:
            listener()

    def check_market_book(self, market, market_book) -> bool:
        """Only books after which something is queued or owed cost more than this test."""
        return bool(self.layer.dispatcher.pending) or len(self.tracker.notices) > self._notices_seen

    def process_market_book(self, market, market_book) -> None:
        """Deliver notices to strategies this book did not reach, then flush the order queue."""
        self.after_work()

    def process_closed_market(self, market, market_book) -> None:
        """Mark the market closed, settle it in the layer, and send what that queued."""
        self.tracker.mark_closed(market.market_id, self.clock.now())
        self.layer.market_closed(market)
        self.after_work()

    def orders_changed(self) -> None:
        """An order update arrived (live): hedges whose answer came after their book retry on it now."""
        if not self.layer.hedger.busy:
            return
        placed = False
        for market in list(self.layer.flumine.markets):
            if not market.closed and self.layer.hedger.update(market):
                placed = True
        if placed:
            self.after_work()

    def after_work(self) -> None:
        """The end of every unit of work (a book, a close, a timer, a live tick): owed hooks, the one flush,
        then the refusals that flush produced (what a strategy queues in on_refused goes with the next)."""
        self._deliver()
        self.layer.flush()
        self._deliver()

    def _deliver(self) -> None:
        if len(self.tracker.notices) > self._notices_seen:
            self._notices_seen = len(self.tracker.notices)
            for strategy in self.modal:
                strategy.deliver_notices()
