"""Strategy plugin discovery: classes in strategies/*.py and installed entry points."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from core.config import StrategyEntry, describe_validation_error
from core.errors import PluginError
from strategies.base import ModalStrategy, StrategyConfig

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "paddock.strategies"
STRATEGIES_DIR = Path(__file__).resolve().parent.parent / "strategies"
NOT_PLUGINS = {"__init__", "base"}


def plugin_name_of(cls: type[ModalStrategy]) -> str:
    """The name a strategy class is chosen by: its plugin_name, else its class name in snake_case."""
    if cls.plugin_name:
        return cls.plugin_name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


@dataclass(frozen=True)
class Plugin:
    """A loadable strategy class and where it came from."""

    name: str
    cls: type[ModalStrategy]
    source: str

    def params(self) -> dict[str, dict[str, Any]]:
        """The strategy's config fields with type, default and description."""
        out = {}
        for key, info in self.cls.Config.model_fields.items():
            out[key] = {
                "type": getattr(info.annotation, "__name__", str(info.annotation)),
                "default": info.default,
                "description": info.description or "",
            }
        return out


@dataclass(frozen=True)
class PluginFailure:
    """A plugin source that could not be loaded, with the reason."""

    source: str
    error: str


@dataclass
class PluginRegistry:
    """All discovered strategy plugins and the sources that failed to load."""

    plugins: dict[str, Plugin] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    def get(self, name: str) -> Plugin:
        """The plugin of that name; raises PluginError naming any failed sources."""
        if name in self.plugins:
            return self.plugins[name]
        msg = f"unknown strategy {name!r}; available: {', '.join(sorted(self.plugins)) or 'none'}"
        if self.failures:
            msg += "\nthese plugin sources failed to load (the strategy may be in one of them):"
            for f in self.failures:
                msg += f"\n  {f.source}: {f.error}"
        raise PluginError(msg)

    def create(self, entry: StrategyEntry, source: str, index: int, **kwargs) -> ModalStrategy:
        """Instantiate a configured strategy, validating its params against its typed config."""
        plugin = self.get(entry.name)
        try:
            config = plugin.cls.Config.model_validate(entry.params)
        except ValidationError as exc:
            raise PluginError(describe_validation_error(source, exc, prefix=f"strategies[{index}].params")) from None
        return plugin.cls(config, name=entry.instance_name, **kwargs)

    def register(self, cls: type[ModalStrategy], source: str) -> None:
        """Add a strategy class; a name clash or a bad Config is recorded as a failure."""
        name = plugin_name_of(cls)
        if name in self.plugins and self.plugins[name].cls is not cls:
            self.failures.append(
                PluginFailure(source, f"strategy name {name!r} is already used by {self.plugins[name].source}")
            )
            return
        if not (isinstance(cls.Config, type) and issubclass(cls.Config, StrategyConfig)):
            self.failures.append(PluginFailure(source, f"{cls.__name__}.Config must subclass StrategyConfig"))
            return
        self.plugins[name] = Plugin(name=name, cls=cls, source=source)


def _error_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (line {frames[-1].lineno})" if frames else ""
    if isinstance(exc, SyntaxError):
        where = f" (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}{where}"


def _import_file(path: Path, strategies_dir: Path) -> ModuleType:
    if strategies_dir.resolve() == STRATEGIES_DIR:
        return importlib.import_module(f"strategies.{path.stem}")
    name = f"_paddock_plugin_{abs(hash(str(path.resolve())))}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def discover(strategies_dir: Path = STRATEGIES_DIR, entry_point_group: str = ENTRY_POINT_GROUP) -> PluginRegistry:
    """Load every strategy plugin; a broken one is recorded and does not stop the others."""
    registry = PluginRegistry()
    for path in sorted(strategies_dir.glob("*.py")):
        if path.stem in NOT_PLUGINS or path.stem.startswith("_"):
            continue
        try:
            module = _import_file(path, strategies_dir)
        except BaseException as exc:  # noqa: BLE001 - a plugin may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            registry.failures.append(PluginFailure(str(path), _error_text(exc)))
            continue
        found = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, ModalStrategy)
            and obj is not ModalStrategy
            and obj.__module__ == module.__name__
        ]
        if not found:
            registry.failures.append(PluginFailure(str(path), "defines no ModalStrategy subclass"))
        for cls in found:
            registry.register(cls, str(path))
    for ep in sorted(importlib.metadata.entry_points(group=entry_point_group), key=lambda e: e.name):
        source = f"entry point {ep.name} = {ep.value}"
        try:
            cls = ep.load()
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            registry.failures.append(PluginFailure(source, _error_text(exc)))
            continue
        if not (inspect.isclass(cls) and issubclass(cls, ModalStrategy)):
            registry.failures.append(PluginFailure(source, "is not a ModalStrategy subclass"))
            continue
        registry.register(cls, source)
    return registry
