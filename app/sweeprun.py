"""`main.py sweep`: one strategy's backtest for every combination of a grid of its params, all combinations' event
groups on one runner (this process, a pool or Dask); each combination is a normal backtest run in the store, and
the combinations are ranked by net P&L, then the smaller max drawdown, into a table, a CSV and a heat map."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from app.analysis import analyse
from app.backtestrun import group_tasks, merged, outcome_of
from app.eventgroups import plan_groups
from app.groupaudit import RunStore
from app.grouprun import GroupResult, GroupTask
from app.parallel import group_bytes, make_runner, run_batches
from app.plots import write_heatmap
from app.plugins import discover
from app.progress import GroupProgress, wanted
from app.reportformat import cell
from app.runfolder import new_run_dir
from app.runreport import in_memory
from app.sweepconfig import sweep_entry, write_combination
from app.sweepgrid import Grid, parse_grid, value_text
from core.auditdb import ENV_URL
from core.clock import WallClock
from core.config import LoadedConfig, StrategyEntry, describe_validation_error, load_config
from core.errors import PluginError, UserError

logger = logging.getLogger("app.sweep")

SOME_FAILED = 3  # exit code: the sweep finished, but an event group of some combination failed
TABLE, HEATMAP, CONFIGS = "sweep.csv", "heatmap.png", "configs"
# the figures of analysis.strategies a row keeps, by the table's column (stake: the matched stake)
FIGURES = {"orders": "orders", "matched": "matched", "matched_stake": "stake", "gross": "gross",
           "commission": "commission", "net": "net", "roi": "roi", "max_drawdown": "max_drawdown"}  # fmt: skip
FIXED = {"rank", "combination", *FIGURES, "failed_groups", "run_id", "config"}
SHOWN = {"matched_stake": "matched stake", "roi": "ROI", "max_drawdown": "max drawdown", "run_id": "run",
         "failed_groups": "failed"}  # fmt: skip


@dataclass
class Combination:
    """One point of the grid: its params, its config (written to a file), its run in the store, its tasks."""

    number: int  # 1-based, in grid order
    params: dict
    config: LoadedConfig
    store: RunStore | None = None
    tasks: list[GroupTask] | None = None


def run_sweep(args) -> int:
    """Run the sweep the command line asks for; returns the exit code."""
    started = WallClock().now()
    config = load_config(args.config)
    index, entry = sweep_entry(config, args.strategy)
    model = discover(args.strategies_dir).get(entry.name).cls.Config
    try:
        model.model_validate(entry.params)
    except ValidationError as exc:
        raise PluginError(describe_validation_error(str(config.path), exc, f"strategies[{index}].params")) from None
    grid = parse_grid(args.grid, model, entry.params, entry.instance_name)
    groups, unreadable = plan_groups(args.paths or [config.resolve(p) for p in config.app.backtest.paths], args.strict)
    if not any(entry.market_filter.matches(m.event_type_id, m.market_type, m.country_code, m.event_id, m.market_id)
               for g in groups for m in g.markets):  # fmt: skip
        logger.warning("strategy %s matches none of the recordings", entry.instance_name)
    folder = _new_folder(args.out, started)
    combos, secret_url = _write_configs(config, index, grid, folder / CONFIGS)
    runner = make_runner(args.workers, args.dask, len(groups) * len(combos))  # before the rows: a bad --dask
    environ = {**os.environ, ENV_URL: os.environ.get(ENV_URL) or secret_url} if secret_url else os.environ
    sources = [p for g in groups for p in g.paths]
    outcomes = ["failed: interrupted"] * len(combos)
    batches: list[list[GroupResult]] = []
    try:
        for combo in combos:
            combo.store = RunStore(combo.config, environ, sources) if combo.config.app.store.enabled else None
            combo.tasks = group_tasks(groups, str(combo.config.path), str(args.strategies_dir), args.strict,
                                      combo.store is not None)  # fmt: skip
        batches = _run(runner, combos, config.app.backtest.kill_switch_scope, args.quiet)
        verdicts = [outcome_of(results, args.strict) for results in batches]
        outcomes = [outcome for outcome, _ in verdicts]
        fatal = [error for _, error in verdicts if error is not None]
        if fatal and (args.strict or len(fatal) == len(combos)):
            raise UserError(fatal[0])
    finally:
        runner.close()
        for n, combo in enumerate(combos):
            if combo.store is not None:
                done = batches[n] if n < len(batches) else []
                combo.store.finish([r.rows for r in done if r.error is None], outcomes[n])
    table = rank([_row(combo, results, entry, unreadable) for combo, results in zip(combos, batches, strict=True)])
    _report(table, grid, entry, len(groups), folder)
    failed = int(table["failed_groups"].sum())
    for combo, results in zip(combos, batches, strict=True):
        for r in results:
            if r.error:
                print(f"FAILED combination {combo.number}, {r.key} ({', '.join(r.paths)}): {r.error}", file=sys.stderr)
            for name, count in r.hook_errors.items():
                print(f"warning: combination {combo.number}, {r.key}: strategy {name}: {count} hook call(s) raised; "
                      "see the log", file=sys.stderr)  # fmt: skip
    if failed:
        print(f"{failed} event group(s) of the sweep failed (exit code {SOME_FAILED})", file=sys.stderr)
        return SOME_FAILED
    return 0


def _new_folder(out: str, started: float) -> Path:
    try:
        return new_run_dir(Path(out), started, prefix="sweep")
    except OSError as exc:
        raise UserError(f"--out {out}: cannot make a run folder there ({exc.strerror})") from None


def _write_configs(config: LoadedConfig, index: int, grid: Grid, where: Path) -> tuple[list[Combination], str | None]:
    """Each combination's config file, written and loaded (so a worker reads exactly what the store keeps)."""
    where.mkdir()
    combos, secret_url = [], None
    points = grid.combinations()
    for number, params in enumerate(points, start=1):
        note = f"combination {number} of {len(points)} of the sweep in {where.parent.resolve()}"
        path, secret_url = write_combination(config, index, params, where / f"combination-{number:02d}.toml", note)
        combos.append(Combination(number, params, load_config(path)))
    return combos, secret_url


def _run(runner, combos: list[Combination], scope: str, quiet: bool) -> list[list[GroupResult]]:
    """Every combination's group results, all groups on the runner at once, with a bar of their bytes."""
    tasks = [combo.tasks or [] for combo in combos]
    progress = GroupProgress(sum(group_bytes(t) for batch in tasks for t in batch), "sweep") if wanted(quiet) else None
    done = (lambda task, result: progress.done(group_bytes(task), result.lines)) if progress else None
    try:
        return run_batches(runner, tasks, scope, done)
    finally:
        if progress is not None:
            progress.close()


def _row(combo: Combination, results: list[GroupResult], entry: StrategyEntry, unreadable: dict) -> dict:
    """A combination's figures for the strategy, as the backtest's report computes them."""
    report, facts = merged(results, combo.config, unreadable)
    strategies = analyse(in_memory(facts, report)).strategies
    mine = strategies[strategies["strategy"] == entry.instance_name].to_dict(orient="records")
    if mine:
        figures = {column: mine[0][key] for column, key in FIGURES.items()}
    elif all(r.error for r in results):
        figures = dict.fromkeys(FIGURES, float("nan"))  # nothing replayed: no figures, not zeros
    else:
        figures = {**dict.fromkeys(FIGURES, 0), "roi": float("nan")}  # it received no market: traded nothing
    return {
        "combination": combo.number,
        **{column(name): value for name, value in combo.params.items()},
        **figures,
        "failed_groups": sum(1 for r in results if r.error),
        "run_id": combo.store.run_id if combo.store is not None else None,
        "config": str(combo.config.path),
    }


def column(param: str) -> str:
    """The table's column of a swept param: its name, unless a figure's column has it (a param `net`)."""
    return f"param_{param}" if param in FIXED else param


def rank(rows: list[dict]) -> pd.DataFrame:
    """The combinations ranked: net P&L descending, then max drawdown ascending, then grid order."""
    table = pd.DataFrame(rows)
    table = table.sort_values(["net", "max_drawdown", "combination"], ascending=[False, True, True],
                              na_position="last", kind="stable")  # fmt: skip
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)


def shown_table(table: pd.DataFrame, grid: Grid) -> str:
    """The ranked table as the terminal shows it: params as given, money to the penny, ROI as a percentage."""
    params = [column(name) for name in grid.names]
    columns = ["rank", *params, *FIGURES, "run_id", *(["failed_groups"] if table["failed_groups"].any() else [])]
    cells = {}
    for name in columns:
        if name in params:
            cells[name] = [value_text(v) for v in table[name]]
        elif name == "run_id":
            cells[name] = ["-" if pd.isna(v) else str(int(v)) for v in table[name]]
        else:
            cells[name] = [cell(FIGURES.get(name, name), v) for v in table[name]]
    headers = {c: SHOWN.get(c, c) for c in columns if c not in params}
    return pd.DataFrame(cells, columns=columns).rename(columns=headers).to_string(index=False)


def _report(table: pd.DataFrame, grid: Grid, entry: StrategyEntry, groups: int, folder: Path) -> None:
    """Print the ranked table; write it as CSV and the heat map of the first two swept params into the folder."""
    name = entry.instance_name
    axes = " x ".join(grid.names)
    print(f"Sweep of {name}: {len(table)} combinations of {axes} over {groups} event group(s), ranked by net P&L, "
          "then the smaller max drawdown:")  # fmt: skip
    print(shown_table(table, grid))
    table.to_csv(folder / TABLE, index=False, lineterminator="\n")
    title = f"Net P&L of {name} by {' and '.join(grid.names[:2])}"
    if len(grid.names) > 2:
        title += f" (each cell: the best over {', '.join(grid.names[2:])})"
    axes = [(column(name), values) for name, values in zip(grid.names[:2], grid.values[:2], strict=True)]
    write_heatmap(table, axes, title, folder / HEATMAP)
    for path in (folder / TABLE, folder / HEATMAP):
        print(f"wrote {path}")
    print(f"combination configs: {folder / CONFIGS} (python main.py backtest --config FILE replays one)")
    print(f"run folder: {folder}")
