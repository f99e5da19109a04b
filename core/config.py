"""The TOML config file, validated by typed models with errors that name the file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errorcodes import THROTTLE_CODES
from core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.toml"


class Frozen(BaseModel):
    """Base for config sections: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketFilterConfig(Frozen):
    """Which markets a strategy trades: the live stream filter and the backtest file filter."""

    event_type_ids: tuple[str, ...] = ()
    market_types: tuple[str, ...] = ()
    country_codes: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    market_ids: tuple[str, ...] = ()

    def matches(
        self,
        event_type_id: str | None,
        market_type: str | None,
        country_code: str | None,
        event_id: str | None = None,
        market_id: str | None = None,
    ) -> bool:
        """True when a market with these attributes passes the filter (empty lists match all)."""
        return (
            (not self.event_type_ids or event_type_id in self.event_type_ids)
            and (not self.market_types or market_type in self.market_types)
            and (not self.country_codes or country_code in self.country_codes)
            and (not self.event_ids or event_id in self.event_ids)
            and (not self.market_ids or market_id in self.market_ids)
        )

    def rest(self) -> dict:
        """The same filter as a betting API marketFilter (listMarketCatalogue)."""
        from betfairlightweight.filters import market_filter

        return market_filter(
            event_type_ids=list(self.event_type_ids) or None,
            market_type_codes=list(self.market_types) or None,
            market_countries=list(self.country_codes) or None,
            event_ids=list(self.event_ids) or None,
            market_ids=list(self.market_ids) or None,
        )

    def streaming(self) -> dict:
        """The same filter as a Betfair stream marketFilter."""
        from betfairlightweight.filters import streaming_market_filter

        return streaming_market_filter(
            event_type_ids=list(self.event_type_ids) or None,
            market_types=list(self.market_types) or None,
            country_codes=list(self.country_codes) or None,
            event_ids=list(self.event_ids) or None,
            market_ids=list(self.market_ids) or None,
        )


class StrategyEntry(Frozen):
    """One strategy instance: the plugin to use, its params and its markets."""

    name: str = Field(min_length=1)
    label: str | None = None
    market_filter: MarketFilterConfig = MarketFilterConfig()
    params: dict[str, Any] = {}

    @property
    def instance_name(self) -> str:
        """Name the strategy runs under in logs and reports."""
        return self.label or self.name


class BacktestConfig(Frozen):
    """Backtest defaults: recordings to replay and the commission rate."""

    paths: tuple[str, ...] = ("recordings",)
    commission: float = Field(default=0.05, ge=0.0, lt=1.0)
    kill_switch_scope: Literal["event", "run"] = Field(
        default="event", description="a trip halts the rest of its event group (event) or the rest of the run"
    )


class RiskConfig(Frozen):
    """Risk limits checked on every new order (absent keys are limits not applied)."""

    max_stake: float | None = Field(default=None, gt=0, description="largest stake of one order")
    max_market_exposure: float | None = Field(default=None, gt=0, description="worst-case loss in one market")
    max_event_exposure: float | None = Field(default=None, gt=0, description="worst-case loss over an event's markets")
    max_total_exposure: float | None = Field(default=None, gt=0, description="worst-case loss over all markets")
    daily_loss_limit: float | None = Field(
        default=None, gt=0, description="no new orders once today's P&L is below -this"
    )
    selection_cooldown: float = Field(
        default=0.0, ge=0, description="seconds after an order before the next on a runner"
    )
    blacklist_event_types: tuple[str, ...] = ()
    blacklist_market_types: tuple[str, ...] = ()
    blacklist_competitions: tuple[str, ...] = ()
    max_price_drift: int | None = Field(
        default=None, ge=0, description="ticks the decision price may have moved at placement"
    )
    one_in_flight: bool = Field(default=True, description="at most one placement in flight per market and selection")


class KillSwitchConfig(Frozen):
    """What trips the kill switch automatically."""

    stream_timeout: float = Field(default=10.0, gt=0, description="seconds without data or heartbeat")
    trip_on_stream_timeout: bool = True
    trip_on_order_error: bool = True
    trip_on_throttle: bool = True
    throttle_codes: tuple[str, ...] = THROTTLE_CODES
    max_daily_drawdown: float | None = Field(default=None, gt=0, description="trip when today's P&L is below -this")


class RateLimitConfig(Frozen):
    """Order calls (placeOrders, cancelOrders, ...) per second; more wait in a queue."""

    in_play: float = Field(default=5.0, gt=0)
    pre_race: float = Field(default=5.0, gt=0)


class CascadeConfig(Frozen):
    """Suspension cascades across an event's markets."""

    cascade_debounce: float = Field(default=0.2, ge=0, description="seconds to collect an event's suspensions")
    reopen_settle: float = Field(default=0.0, ge=0, description="seconds after a reopen before acting")
    policy: Literal["hold", "hedge", "strategy"] = "hold"


class HedgeConfig(Frozen):
    """FILL_OR_KILL hedge execution."""

    hedge_max_attempts: int = Field(default=3, ge=1)
    hedge_max_ticks: int = Field(default=3, ge=0, description="how many ticks worse the last attempt may price")
    min_stake: float = Field(default=1.0, gt=0, description="smallest hedge stake placed")


class DataQualityConfig(Frozen):
    """When a market's data is doubtful enough to pause its new orders, and how long it must be clean to resume."""

    enabled: bool = Field(default=True, description="pause new orders on markets whose data is doubtful")
    max_publish_lag: float | None = Field(
        default=2.0, gt=0, description="seconds publish time may lag receipt (live and paper; a replay has no lag)"
    )
    check_book: bool = Field(default=True, description="pause on a crossed or empty book in an OPEN market")
    stall_after: float | None = Field(
        default=60.0, gt=0, description="seconds without an update while the event's other markets update"
    )
    stall_min_updates: int = Field(
        default=300, ge=1, description="updates of the event's other markets meanwhile (a quiet market is normal)"
    )
    notice_count: int = Field(default=3, ge=1, description="503 / conflation notices within notice_window that pause")
    notice_window: float = Field(default=60.0, gt=0, description="seconds over which notices are counted")
    resume_after: float = Field(default=10.0, ge=0, description="seconds of clean data before new orders resume")


class ExchangeConfig(Frozen):
    """Which exchange live, paper and record talk to, and how often they poll it."""

    url: str | None = Field(default=None, description="a local exchange (the emulator); absent = real Betfair")
    settle_poll: float = Field(default=60.0, gt=0, description="seconds between cleared-order polls of closed markets")
    session_check: float = Field(default=60.0, gt=0, description="seconds between keepAlive checks of the session")
    status_interval: float = Field(
        default=5.0, ge=0, description="seconds between status lines while running (0: none)"
    )


class RecordConfig(Frozen):
    """What `record` subscribes to and where it writes."""

    market_filter: MarketFilterConfig = MarketFilterConfig()
    out: str = Field(default="recordings", min_length=1)


class AlertsConfig(Frozen):
    """Where alerts go besides the log (Sentry: SENTRY_DSN) and what counts as a reconnect storm."""

    webhook_url_file: str | None = Field(
        default=None, description="a file holding the webhook URL (PADDOCK_WEBHOOK_URL wins); never the URL itself"
    )
    webhook_timeout: float = Field(default=5.0, gt=0, description="seconds a webhook POST may take")
    reconnect_storm: int = Field(default=3, ge=1, description="market stream reconnects within the window that alert")
    reconnect_window: float = Field(default=300.0, gt=0, description="seconds the reconnects are counted over")


STORE_DRIVERS = ("sqlite", "postgresql", "postgresql+psycopg")


class StoreConfig(Frozen):
    """The audit store: a SQLite file in data_dir by default, or a database URL (PADDOCK_DB_URL wins over `url`)."""

    enabled: bool = Field(default=True, description="write runs, markets, orders and P&L to the audit store")
    url: str | None = Field(default=None, description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db")

    @field_validator("url")
    @classmethod
    def _known_driver(cls, url: str | None) -> str | None:
        if url is not None:
            check_store_url(url)
        return url


def check_store_url(url: str) -> None:
    """Raise ValueError (the URL's password left out) unless url is a SQLite or PostgreSQL (psycopg) URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("not a database URL (expected e.g. postgresql+psycopg://user:password@host/db)") from None
    if parsed.drivername not in STORE_DRIVERS:
        raise ValueError(f"database {parsed.drivername!r} is not supported (use {' or '.join(STORE_DRIVERS)})")


class RecoveryConfig(Frozen):
    """What a live start does with orders the exchange holds and the audit store does not know."""

    adopt: bool = Field(
        default=True,
        description="take an unknown order of a configured strategy into its position (false: flag it external)",
    )


class AppConfig(Frozen):
    """The whole config file."""

    strategies: tuple[StrategyEntry, ...] = ()
    backtest: BacktestConfig = BacktestConfig()
    risk: RiskConfig = RiskConfig()
    kill_switch: KillSwitchConfig = KillSwitchConfig()
    rate_limit: RateLimitConfig = RateLimitConfig()
    cascade: CascadeConfig = CascadeConfig()
    hedge: HedgeConfig = HedgeConfig()
    data_quality: DataQualityConfig = DataQualityConfig()
    exchange: ExchangeConfig = ExchangeConfig()
    record: RecordConfig = RecordConfig()
    store: StoreConfig = StoreConfig()
    alerts: AlertsConfig = AlertsConfig()
    recovery: RecoveryConfig = RecoveryConfig()
    data_dir: str = Field(default="data", min_length=1, description="kill switch state and other durable files")

    @field_validator("strategies")
    @classmethod
    def _unique_names(cls, entries: tuple[StrategyEntry, ...]) -> tuple[StrategyEntry, ...]:
        seen: set[str] = set()
        for entry in entries:
            if entry.instance_name in seen:
                raise ValueError(f"two strategies run as {entry.instance_name!r}; give one a distinct 'label'")
            seen.add(entry.instance_name)
        return entries


class LoadedConfig(Frozen):
    """A validated config and the file it came from (relative paths resolve against its folder)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    path: Path
    app: AppConfig

    @model_validator(mode="after")
    def _absolute(self) -> LoadedConfig:
        if not self.path.is_absolute():
            raise ValueError("config path must be absolute")
        return self

    def resolve(self, relative: str) -> Path:
        """A path from the config, made absolute against the config file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)


def format_location(loc: tuple[Any, ...]) -> str:
    """Render a pydantic error location as a TOML-style key path, e.g. strategies[0].params.stake."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


SECRET_KEYS = ("store.url",)  # their values may hold a password: an error never shows them


def describe_validation_error(source: str, exc: ValidationError, prefix: str = "") -> str:
    """One message listing each invalid key with what was expected (values of secret keys left out)."""
    lines = []
    for err in exc.errors():
        key = format_location(err["loc"])
        if prefix:
            key = f"{prefix}.{key}" if err["loc"] else prefix
        if err["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
        elif err["type"] == "missing":
            lines.append(f"{source}: missing key '{key}'")
        elif key in SECRET_KEYS:
            lines.append(f"{source}: key '{key}': {err['msg']}")
        else:
            lines.append(f"{source}: key '{key}': {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, require_strategies: bool = True) -> LoadedConfig:
    """Read and validate a config file; raises ConfigError naming the file and key."""
    cfg_path = Path(path).expanduser().resolve() if path else DEFAULT_CONFIG
    try:
        raw = cfg_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{cfg_path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{cfg_path}: cannot read config file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from None
    try:
        app = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(str(cfg_path), exc)) from None
    if require_strategies and not app.strategies:
        raise ConfigError(f"{cfg_path}: missing key 'strategies' (add at least one [[strategies]] table)")
    return LoadedConfig(path=cfg_path, app=app)
