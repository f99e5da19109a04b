"""One event group replayed in its own framework: the function a worker process (or Dask worker) runs.

It takes paths, not data (the worker reads the files itself), and returns everything the parent needs to
merge: the group's report, the store's rows it would have written, and the kill switch it ended with."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from app.backtest import build_backtest
from app.groupaudit import collect_audit
from app.plugins import PluginRegistry, discover
from app.report import Report
from app.runfacts import RunFacts, facts_of
from core.config import LoadedConfig, load_config
from core.errors import UserError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupTask:
    """What a worker needs to replay one event group: where the config, plugins and recordings are."""

    key: str
    paths: tuple[str, ...]
    config_path: str
    strategies_dir: str
    strict: bool = False
    store: bool = True  # collect the store's rows
    switch_state: dict | None = None  # the kill switch's stored state at the start (scope "run")


@dataclass
class GroupResult:
    """A replayed event group, or why it failed (`error`; `user_error` when the operator can fix it)."""

    key: str
    paths: tuple[str, ...]
    report: Report | None = None
    rows: list[tuple] = field(default_factory=list)
    start_state: dict | None = None
    end_state: dict | None = None  # the kill switch's stored state at the end (None: never tripped)
    switch: str = "ACTIVE"
    hook_errors: dict[str, int] = field(default_factory=dict)
    lines: int = 0  # recording lines read
    facts: RunFacts | None = None  # market and runner names, files, updates (for the run folder)
    error: str | None = None
    user_error: bool = False


@lru_cache(maxsize=4)
def _setup(config_path: str, strategies_dir: str) -> tuple[LoadedConfig, PluginRegistry]:
    """The config and plugins, loaded once per worker process."""
    return load_config(config_path), discover(Path(strategies_dir))


def run_group(task: GroupTask) -> GroupResult:
    """Replay one event group; any failure is returned (with its message), not raised."""
    result = GroupResult(task.key, task.paths, start_state=task.switch_state)
    try:
        config, registry = _setup(task.config_path, task.strategies_dir)
        framework = build_backtest(
            config,
            registry,
            list(task.paths),
            False,
            task.strict,
            switch_state=task.switch_state,
            audit_sink=collect_audit if task.store else _no_store,
            warn_unmatched=False,  # the parent warns once for the whole run
        )
        framework.run()
    except UserError as exc:
        result.error, result.user_error = str(exc), True
        return result
    except Exception as exc:  # noqa: BLE001 - a strategy's or a file's failure loses this group only
        logger.error("event group %s failed:\n%s", task.key, traceback.format_exc())
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    switch = framework.safety.kill_switch
    result.report = framework.report()
    result.rows = framework.audit_rows.drain() if framework.audit_rows is not None else []
    result.end_state = switch.store.load()
    result.switch = str(switch.state)
    result.hook_errors = {s.name: s.hook_errors for s in framework.strategies if s.hook_errors}
    result.facts = facts_of(framework)
    result.lines = result.facts.updates
    return result


def _no_store(framework, driver, call_log, sources) -> None:
    """An audit sink that records nothing (the store is off)."""
