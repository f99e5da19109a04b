"""Risk limits: a flumine trading control that refuses any new order that would breach one."""

from __future__ import annotations

from collections.abc import Callable

from flumine.controls import BaseControl
from flumine.controls.tradingcontrols import StrategyExposure
from flumine.order.order import OrderStatus
from flumine.order.orderpackage import OrderPackageType
from flumine.utils import price_ticks_away

from core.clock import Clock
from core.config import RiskConfig
from core.positions import Positions, exposure_with, is_hedge, positions

DECISION_PRICE = "decision_price"  # order.context key: the book price a strategy decided on


class RiskControl(BaseControl):
    """Refuses orders that breach a configured limit; hedges are exempt (they only reduce exposure)."""

    NAME = "RISK_LIMITS"

    def __init__(
        self,
        flumine,
        config: RiskConfig,
        clock: Clock,
        event_markets: Callable[[str], list[str]],
        daily_pnl: Callable[[], float],
        blocked: Callable[[str], str | None],
        competitions: dict[str, str] | None = None,
        cooldowns: dict[tuple[str, int], float] | None = None,
        positions_of: Callable[[object], Positions] = positions,
    ) -> None:
        super().__init__(flumine)
        self.config = config
        self.clock = clock
        self.event_markets = event_markets
        self.daily_pnl = daily_pnl
        self.blocked = blocked
        self.competitions = competitions if competitions is not None else {}  # market id -> competition (recordings)
        self._last_order_at = cooldowns if cooldowns is not None else {}  # (market, selection) -> last order
        self.positions_of = positions_of  # a market -> the positions of all its orders
        self.carried: dict[str, float] = {}  # market id -> worst-case loss a restart carried over (paper: the store's)

    def _validate(self, order, package_type: OrderPackageType) -> None:
        if package_type is not OrderPackageType.PLACE:
            return
        market = self.flumine.markets.markets.get(order.market_id)
        if market is None:
            self._on_error(order, f"unknown market {order.market_id}")
        why = self.blocked(order.market_id)
        if why:
            self._on_error(order, why)
        if is_hedge(order):
            return
        cfg = self.config
        definition = market.market_book.market_definition if market.market_book else None
        self._check_blacklists(order, market, definition)
        size = order.order_type.size or 0.0
        if cfg.max_stake is not None and size > cfg.max_stake:
            self._on_error(order, f"stake {size} is above max_stake {cfg.max_stake}")
        if cfg.one_in_flight:
            for other in market.blotter.live_orders:  # in flight means not complete: no walk over every order
                if (
                    other is not order
                    and other.selection_id == order.selection_id
                    and other.status
                    in (
                        OrderStatus.PENDING,
                        OrderStatus.REPLACING,
                    )
                ):
                    self._on_error(order, f"a placement on selection {order.selection_id} is already in flight")
        key = (order.market_id, order.selection_id)
        now = self.clock.now()
        last = self._last_order_at.get(key)
        if cfg.selection_cooldown and last is not None and now - last < cfg.selection_cooldown:
            self._on_error(
                order,
                f"selection {order.selection_id} is cooling down ({now - last:.1f}s of {cfg.selection_cooldown}s)",
            )
        if cfg.max_price_drift is not None:
            self._check_price(order, market)
        self._check_exposure(order, market)
        if cfg.daily_loss_limit is not None:
            pnl = self.daily_pnl()
            if pnl < -cfg.daily_loss_limit:
                self._on_error(order, f"today's P&L {pnl:.2f} is below the daily loss limit -{cfg.daily_loss_limit}")
        self._last_order_at[key] = now

    def competition_of(self, market) -> str | None:
        """The market's competition id: from the catalogue (live) or the recording (backtest)."""
        catalogue = market.market_catalogue
        if catalogue is not None and getattr(catalogue, "competition", None) is not None:
            return str(catalogue.competition.id)
        return self.competitions.get(market.market_id)

    def _check_blacklists(self, order, market, definition) -> None:
        cfg = self.config
        if definition is None:
            return
        checks = (
            ("event type", str(definition.event_type_id), cfg.blacklist_event_types),
            ("market type", definition.market_type, cfg.blacklist_market_types),
            ("competition", self.competition_of(market), cfg.blacklist_competitions),
        )
        for what, value, blacklist in checks:
            if value is not None and value in blacklist:
                self._on_error(order, f"{what} {value} is blacklisted")

    def _check_price(self, order, market) -> None:
        drift = self.config.max_price_drift
        decided = order.context.get(DECISION_PRICE, order.order_type.price)
        runner = next((r for r in market.market_book.runners if r.selection_id == order.selection_id), None)
        ladder = None
        if runner is not None:
            ladder = runner.ex.available_to_back if order.side == "BACK" else runner.ex.available_to_lay
        best = ladder[0]["price"] if ladder else None
        try:
            bound = price_ticks_away(decided, -drift if order.side == "BACK" else drift)
        except ValueError:
            self._on_error(order, f"decision price {decided} is not on the price ladder")
        if order.side == "BACK":
            floor = bound
            if best is None or best < floor:
                self._on_error(
                    order, f"stale price: decided to back at {decided}, best back now {best} (drift {drift} ticks)"
                )
        else:
            ceiling = bound
            if best is None or best > ceiling:
                self._on_error(
                    order, f"stale price: decided to lay at {decided}, best lay now {best} (drift {drift} ticks)"
                )

    def _check_exposure(self, order, market) -> None:
        cfg = self.config
        if cfg.max_market_exposure is None and cfg.max_event_exposure is None and cfg.max_total_exposure is None:
            return
        current = self._others(market, order)
        carried = self.carried.get(market.market_id, 0.0)
        new_market = exposure_with(current, order) + carried
        if cfg.max_market_exposure is not None and new_market > cfg.max_market_exposure + 1e-9:
            self._on_error(
                order, f"market exposure would be {new_market:.2f}, above max_market_exposure {cfg.max_market_exposure}"
            )
        delta = new_market - current.exposure - carried
        if cfg.max_event_exposure is not None:
            event_id = market.event_id
            ids = self.event_markets(event_id) if event_id else [market.market_id]
            event_total = self._sum_exposure(ids) + delta
            if event_total > cfg.max_event_exposure + 1e-9:
                self._on_error(
                    order,
                    f"event exposure would be {event_total:.2f}, above max_event_exposure {cfg.max_event_exposure}",
                )
        if cfg.max_total_exposure is not None:
            total = self._sum_exposure(list({**self.carried, **self.flumine.markets.markets})) + delta
            if total > cfg.max_total_exposure + 1e-9:
                self._on_error(
                    order, f"total exposure would be {total:.2f}, above max_total_exposure {cfg.max_total_exposure}"
                )

    def _sum_exposure(self, market_ids: list[str]) -> float:
        total = 0.0
        for market_id in market_ids:
            market = self.flumine.markets.markets.get(market_id)
            if market is None or not market.closed:
                total += self.carried.get(market_id, 0.0)
            if market is not None and not market.closed and len(market.blotter):
                total += self.positions_of(market).exposure
        return total

    def _others(self, market, order) -> Positions:
        """Positions of the market's orders but this one (flumine checks an order before its blotter holds it)."""
        if order.id in market.blotter:
            return positions(market, [o for o in market.blotter if o is not order])
        return self.positions_of(market)


class HedgeExemptExposure(StrategyExposure):
    """flumine's per-strategy exposure caps, except for hedges: a green-up only ever reduces exposure."""

    def _validate(self, order, package_type: OrderPackageType) -> None:
        if is_hedge(order):
            return  # a hedge lay at a long price has a large liability on its own, but closes the position
        super()._validate(order, package_type)


def exempt_hedges_from_strategy_exposure(flumine) -> None:
    """Swap flumine's StrategyExposure control for HedgeExemptExposure, in the same place."""
    controls = flumine.trading_controls
    for i, control in enumerate(controls):
        if type(control) is StrategyExposure:
            controls[i] = HedgeExemptExposure(flumine)
