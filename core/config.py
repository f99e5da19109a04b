"""The TOML config file, validated by typed models with errors that name the file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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

    def matches(self, event_type_id: str | None, market_type: str | None, country_code: str | None) -> bool:
        """True when a market with these attributes passes the filter (empty lists match all)."""
        return (
            (not self.event_type_ids or event_type_id in self.event_type_ids)
            and (not self.market_types or market_type in self.market_types)
            and (not self.country_codes or country_code in self.country_codes)
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


class RiskConfig(Frozen):
    """Risk limits; the safety layer adds its keys here."""


class AppConfig(Frozen):
    """The whole config file."""

    strategies: tuple[StrategyEntry, ...] = Field(min_length=1)
    backtest: BacktestConfig = BacktestConfig()
    risk: RiskConfig = RiskConfig()

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


def describe_validation_error(source: str, exc: ValidationError, prefix: str = "") -> str:
    """One message listing each invalid key with what was expected."""
    lines = []
    for err in exc.errors():
        key = format_location(err["loc"])
        if prefix:
            key = f"{prefix}.{key}" if err["loc"] else prefix
        if err["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'")
        elif err["type"] == "missing":
            lines.append(f"{source}: missing key '{key}'")
        else:
            lines.append(f"{source}: key '{key}': {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def load_config(path: str | Path | None = None) -> LoadedConfig:
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
    return LoadedConfig(path=cfg_path, app=app)
