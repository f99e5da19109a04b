"""The config file of each combination of a sweep: the user's config with only the swept strategy, its grid params
set, and its relative paths made absolute; its first line names the params, so the store's run row (which keeps
the config file) says which combination it was and `main.py runs` can show it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy.engine import make_url

from core.config import LoadedConfig, StrategyEntry
from core.errors import UserError
from core.redact import MASK

MARK = "# paddock sweep: "  # the first line of a combination's config: MARK + strategy and params


def sweep_entry(config: LoadedConfig, name: str) -> tuple[int, StrategyEntry]:
    """The config's strategy a sweep runs: the one running as `name` (its label or plugin name), and its index."""
    entries = config.app.strategies
    for index, entry in enumerate(entries):
        if entry.instance_name == name:
            return index, entry
    by_plugin = [(i, e) for i, e in enumerate(entries) if e.name == name]
    if len(by_plugin) == 1:
        return by_plugin[0]
    running = ", ".join(e.instance_name for e in entries)
    if by_plugin:
        raise UserError(f"--strategy {name}: {config.path} runs it {len(by_plugin)} times; name one by its label")
    raise UserError(
        f"--strategy {name}: {config.path} has no such strategy (it runs: {running}); add a [[strategies]] table "
        "with its market_filter and params, or choose one of those"
    )


def params_text(strategy: str, params: dict[str, Any]) -> str:
    """`strategy name=value ...`: how a combination is named in its config and in `main.py runs`."""
    from app.sweepgrid import value_text

    return " ".join([strategy, *(f"{k}={value_text(v)}" for k, v in params.items())])


def write_combination(
    config: LoadedConfig, index: int, params: dict[str, Any], path: Path, note: str
) -> tuple[Path, str | None]:
    """Write the config of one combination to path: strategies[index] alone, with params over its own.

    Returns the path and the store URL it leaves out: a `[store] url` password is masked in the file (the
    caller hands the real URL to the store), so the run folder holds no secret the config file held."""
    data = tomllib.loads(config.path.read_bytes().decode("utf-8"))
    entry = dict(data["strategies"][index])
    entry["params"] = {**entry.get("params", {}), **params}
    data["strategies"] = [entry]
    data["data_dir"] = str(config.resolve(config.app.data_dir))
    data.setdefault("backtest", {})["paths"] = [str(config.resolve(p)) for p in config.app.backtest.paths]
    if "out" in data.get("record", {}):
        data["record"]["out"] = str(config.resolve(data["record"]["out"]))
    if data.get("alerts", {}).get("webhook_url_file"):
        data["alerts"]["webhook_url_file"] = str(config.resolve(data["alerts"]["webhook_url_file"]))
    secret_url = None
    url = data.get("store", {}).get("url")
    if url and make_url(url).password:
        secret_url = url
        data["store"]["url"] = make_url(url).set(password=MASK).render_as_string(hide_password=False)
    name = config.app.strategies[index].instance_name
    head = f"{MARK}{params_text(name, params)}\n# {note}; everything else as in {config.path}\n"
    path.write_text(head + tomli_w.dumps(data))
    return path, secret_url


def swept(config_text: str) -> str | None:
    """The strategy and params of a sweep combination's config (its first line), else None."""
    first = config_text.split("\n", 1)[0]
    return first[len(MARK) :].strip() if first.startswith(MARK) else None
