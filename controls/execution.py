"""flumine executions that report each exchange call and its error codes (the edge of the order path)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from betfairlightweight import BetfairError
from flumine.execution.betfairexecution import BetfairExecution
from flumine.execution.simulatedexecution import SimulatedExecution
from flumine.order.process import process_current_order

from core.clock import Clock
from core.errorcodes import DUPLICATE_TRANSACTION, codes_in

logger = logging.getLogger("paddock.execution")


@dataclass(frozen=True)
class ExchangeCall:
    """One order package handed to the exchange (placeOrders, cancelOrders, ...)."""

    at: float
    market_id: str
    operation: str
    instructions: int
    package_id: str


class CallLog:
    """Every order package executed, once each, and error codes the exchange answered with."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[ExchangeCall] = []
        self.error_codes: list[str] = []
        self.listeners: list[Callable[[str], None]] = []  # told of each error code (on the execution's thread)
        self.before_place: list[Callable[[object], None]] = []  # live: run before a placeOrders request is sent
        self.place_sent: list[Callable[[object], None]] = []  # live and paper: a placeOrders goes now (the package)
        self.place_answered: list[Callable[[object], None]] = []  # ... and its answer is back
        self.executed: list[Callable[[], None]] = []  # an execution finished: its orders may have changed (any thread)
        self._seen: set[str] = set()

    def package(self, order_package) -> None:
        """Record a package the first time it is executed."""
        key = order_package.id.hex
        if key in self._seen:
            return
        self._seen.add(key)
        operation = order_package.package_type.name.lower()
        self.calls.append(
            ExchangeCall(self.clock.now(), order_package.market_id, operation, len(order_package.orders), key)
        )

    def finished(self) -> None:
        """An execution (place, cancel, update, replace) finished, however it went."""
        for listener in self.executed:
            listener()

    def error_code(self, code: str | None) -> None:
        """Note an error code from a response or an exception."""
        if not code:
            return
        self.error_codes.append(code)
        for listener in self.listeners:
            listener(code)


class _Told:
    """Mixin for a flumine execution: CallLog.finished() after each execute_* (the orders' states may have moved)."""

    call_log: CallLog

    def execute_place(self, order_package, http_session) -> None:
        """flumine's placement, then tell."""
        try:
            super().execute_place(order_package, http_session)
        finally:
            self.call_log.finished()

    def execute_cancel(self, order_package, http_session) -> None:
        """flumine's cancel, then tell."""
        try:
            super().execute_cancel(order_package, http_session)
        finally:
            self.call_log.finished()

    def execute_update(self, order_package, http_session) -> None:
        """flumine's update, then tell."""
        try:
            super().execute_update(order_package, http_session)
        finally:
            self.call_log.finished()

    def execute_replace(self, order_package, http_session) -> None:
        """flumine's replace, then tell."""
        try:
            super().execute_replace(order_package, http_session)
        finally:
            self.call_log.finished()


class _Logged(_Told):
    """Mixin for a flumine execution: records each package in a CallLog before executing it."""

    def __init__(self, flumine, call_log: CallLog, **kwargs) -> None:
        super().__init__(flumine, **kwargs)
        self.call_log = call_log

    def handler(self, order_package) -> None:
        """Record, then execute."""
        self.call_log.package(order_package)
        super().handler(order_package)


class LoggedSimulatedExecution(_Logged, SimulatedExecution):
    """flumine's simulated execution, recording each package in a CallLog."""


class TimedSimulatedExecution(_Told, SimulatedExecution):
    """flumine's simulated execution (paper trading) telling a CallLog when each placement goes and is answered:
    the answer comes after flumine's simulated latency and bet delay, as Betfair's would."""

    def __init__(self, flumine, call_log: CallLog, **kwargs) -> None:
        super().__init__(flumine, **kwargs)
        self.call_log = call_log

    def execute_place(self, order_package, http_session) -> None:
        """Simulated placeOrders, between the sent and answered hooks."""
        for hook in self.call_log.place_sent:
            hook(order_package)
        super().execute_place(order_package, http_session)
        for hook in self.call_log.place_answered:
            hook(order_package)


class LoggedBetfairExecution(_Logged, BetfairExecution):
    """flumine's Betfair execution, recording each package and the error codes of every answer."""

    def _observed(self, call, order_package, session):
        try:
            response = call(order_package, session)
        except BetfairError as exc:
            for code in codes_in(exc):
                self.call_log.error_code(code)
            raise
        for code in codes_in(response):
            self.call_log.error_code(code)
        return response

    def place(self, order_package, session):
        """placeOrders, observed; an order whose outcome the answer does not know is left to the order stream."""
        for hook in self.call_log.before_place:  # e.g. the audit store: the order rows are committed first
            hook(order_package)
        for hook in self.call_log.place_sent:
            hook(order_package)
        response = self._observed(super().place, order_package, session)
        for hook in self.call_log.place_answered:
            hook(order_package)
        reports = getattr(response, "place_instruction_reports", None) or []
        if getattr(response, "error_code", None) == DUPLICATE_TRANSACTION:
            # flumine re-sends a package after an error such as a read timeout, with the same customerRef;
            # Betfair refusing it as a duplicate means the first attempt got through: its orders exist and
            # the order stream reports them. Without this, flumine marks them failed and forgets them.
            logger.warning(
                "placeOrders for package %s refused as a re-submission: %s order(s) left to the order stream",
                order_package.id,
                len(order_package),
            )
            for report in reports:
                report.status = "TIMEOUT"  # flumine leaves TIMEOUT orders pending
            for order in order_package:
                self._leave_to_stream(order)
            return response
        for order, report in zip(order_package, reports, strict=False):
            if report.status == "TIMEOUT":
                logger.warning(
                    "placeOrders TIMEOUT for order %s: waiting for the order stream",
                    order.id,
                    extra={"market_id": order.market_id, "strategy": order.trade.strategy.name, "bet_id": order.bet_id},
                )
                self._leave_to_stream(order)
        return response

    def _leave_to_stream(self, order) -> None:
        # flumine adopts a bet id from the order stream only for async orders; the stream may also have
        # reported the order already, before this answer came back, and will not repeat itself
        with order.trade:
            order.async_ = True
            seen = order.responses.current_order
            if order.bet_id is None and seen is not None and seen.bet_id:
                process_current_order(order, seen, self.flumine.log_control)

    def cancel(self, order_package, session):
        """cancelOrders, observed."""
        return self._observed(super().cancel, order_package, session)

    def update(self, order_package, session):
        """updateOrders, observed."""
        return self._observed(super().update, order_package, session)

    def replace(self, order_package, session):
        """replaceOrders, observed."""
        return self._observed(super().replace, order_package, session)
