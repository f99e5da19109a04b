"""flumine with background workers that stop at once: flumine waits up to 4 s for each sleeping worker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flumine import Flumine
from flumine.events import events
from flumine.utils import STRATEGY_NAME_HASH_LENGTH
from flumine.worker import BackgroundWorker

logger = logging.getLogger(__name__)


class PromptWorker(BackgroundWorker):
    """flumine's BackgroundWorker whose waits (start delay, interval) end as soon as it is shut down."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stopped = threading.Event()

    @classmethod
    def like(cls, worker: BackgroundWorker) -> PromptWorker:
        """The same work on the same schedule as a flumine worker."""
        return cls(
            worker.flumine,
            function=worker.function,
            interval=worker.interval,
            func_args=worker.func_args,
            func_kwargs=worker.func_kwargs,
            start_delay=worker.start_delay,
            context=worker.context,
            name=worker.name,
        )

    def run(self) -> None:
        """Call the function every interval until shut down (as flumine's worker does, with waits that wake)."""
        if self._stopped.wait(self.start_delay):
            return
        self._running = True
        while self._running:
            try:
                self.function(self.context, self.flumine, *self.func_args, **self.func_kwargs)
            except Exception as exc:  # noqa: BLE001 - as flumine's worker: log and go on
                logger.error("Error in BackgroundWorker %s: %s", self.name, exc, exc_info=True)
            if self.interval is None or self._stopped.wait(self.interval):
                break

    def shutdown(self, timeout: int = 4) -> None:
        """Wake and stop the worker; wait for a call in progress up to timeout seconds."""
        self._running = False
        self._stopped.set()
        self.join(timeout)


class PaddockFlumine(Flumine):
    """flumine's live framework, whose workers (its own default ones included) stop at once, and which says
    when it has taken in an order update (flumine tells only the strategies that own orders there)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.order_listeners: list[Callable[[], None]] = []
        self.order_update_listeners: list[Callable[[str, str], None]] = []  # (market id, order id) of each update
        self.ignored_refs: set[str] = set()  # customer order refs of orders flagged external: never taken in
        # customer order ref -> the stream's last CurrentOrder for it: betfairlightweight repeats every order of a
        # market in each message, and makes a new object only for an order that changed
        self._last_seen: dict[str, object] = {}

    def _process_current_orders(self, event: events.CurrentOrdersEvent) -> None:
        """flumine's order-update handling, then the listeners (on the main thread, as books are handled): the
        update listeners once per order that changed, the others once per message."""
        if self.ignored_refs:
            for current_orders in event.event:
                current_orders.orders = [
                    o for o in current_orders.orders if o.customer_order_ref not in self.ignored_refs
                ]
        super()._process_current_orders(event)
        if self.order_update_listeners:
            seen = self._last_seen
            for current_orders in event.event:
                for current in current_orders.orders:
                    ref = current.customer_order_ref
                    if ref is None or seen.get(ref) is current:
                        continue
                    seen[ref] = current
                    for listener in self.order_update_listeners:
                        listener(current.market_id, ref[STRATEGY_NAME_HASH_LENGTH + 1 :])
        for listener in self.order_listeners:
            listener()

    def add_worker(self, worker: BackgroundWorker) -> None:
        """Add a worker, made prompt to stop."""
        super().add_worker(worker if isinstance(worker, PromptWorker) else PromptWorker.like(worker))
