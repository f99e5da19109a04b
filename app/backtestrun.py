"""`main.py backtest`: the recordings as event groups on all cores (or a Dask cluster), merged in group order;
or, with --chronological, every market of every event in one publish-time order in this process."""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter

from app.backtest import unmatched_strategies
from app.eventgroups import EventGroup, plan_groups
from app.groupaudit import RunStore
from app.grouprun import GroupResult, GroupTask
from app.mergereport import merge_reports
from app.parallel import group_bytes, make_runner, run_groups
from app.progress import GroupProgress, wanted
from app.report import Report
from app.runfacts import RunFacts, facts_of, merge_facts
from app.runoutput import show
from app.runreport import print_run
from core.clock import WallClock
from core.config import LoadedConfig, load_config
from core.errors import UserError

logger = logging.getLogger("app.backtest")

SOME_GROUPS_FAILED = 3  # exit code: the run finished, but at least one event group failed (named in the report)
PER_GROUP_NOTE = (
    "cross-event limits (max_total_exposure, daily_loss_limit, max_daily_drawdown) applied per event group: "
    "each group starts with no exposure and no P&L of other events (--chronological applies them across events)"
)


def run_backtest(args) -> int:
    """Run the backtest the command line asks for; returns the exit code."""
    started = WallClock().now()
    if args.chronological and (args.workers not in (None, 1) or args.dask):
        raise UserError("--chronological replays every market in one process: leave out --workers and --dask")
    config = load_config(args.config)
    if args.chronological:
        return _chronological(args, config, started)
    raw_paths = args.paths or [config.resolve(p) for p in config.app.backtest.paths]
    groups, unreadable = plan_groups(raw_paths, args.strict)
    for name in unmatched_strategies(config, [m for g in groups for m in g.markets]):
        logger.warning("strategy %s matches none of the recordings", name)
    runner = make_runner(args.workers, args.dask, len(groups))  # before the run's row: a bad --dask writes nothing
    sources = [p for g in groups for p in g.paths]
    store = RunStore(config, os.environ, sources) if config.app.store.enabled else None
    tasks = group_tasks(groups, str(config.path), str(args.strategies_dir), args.strict, store is not None)
    outcome = "failed: interrupted"
    try:
        progress = GroupProgress(sum(map(group_bytes, tasks))) if wanted(args.quiet) else None
        done = (lambda task, result: progress.done(group_bytes(task), result.lines)) if progress else None
        try:
            results = run_groups(runner, tasks, config.app.backtest.kill_switch_scope, done)
        finally:
            if progress is not None:
                progress.close()
        outcome, fatal = outcome_of(results, args.strict)
        if fatal is not None:
            raise UserError(fatal)
    finally:
        runner.close()
        if store is not None:
            done = locals().get("results") or []
            store.finish([r.rows for r in done if r.error is None], outcome)
    good = [r for r in results if r.error is None]
    failed = [r for r in results if r.error]
    report, facts = merged(results, config, unreadable)
    hook_errors: Counter[str] = Counter()
    for r in good:
        hook_errors.update(r.hook_errors)
    show(report, good[-1].switch if good else "ACTIVE", dict(hook_errors))
    print_run(facts, report, args.out, started, WallClock().now())
    if failed:
        print(
            f"{len(failed)} of {len(results)} event group(s) failed (exit code {SOME_GROUPS_FAILED})", file=sys.stderr
        )
        return SOME_GROUPS_FAILED
    return 0


def group_tasks(
    groups: list[EventGroup], config_path: str, strategies_dir: str, strict: bool, store: bool
) -> list[GroupTask]:
    """One worker task per event group, replaying it with the config at config_path."""
    return [GroupTask(g.key, g.paths, config_path, strategies_dir, strict, store) for g in groups]


def outcome_of(results: list[GroupResult], strict: bool) -> tuple[str, str | None]:
    """The run's outcome for the store, and the user error that fails the whole run, if one does."""
    failed = [r for r in results if r.error]
    first_user_error = next((r for r in failed if r.user_error), None)
    # strict stops at the first bad line; a config or plugin error fails every group alike: one message
    if first_user_error is not None and (strict or len(failed) == len(results)):
        return "failed: " + first_user_error.error.splitlines()[0], first_user_error.error
    return (f"completed, {len(failed)} event group(s) failed" if failed else "completed"), None


def merged(results: list[GroupResult], config: LoadedConfig, unreadable: dict[str, str]) -> tuple[Report, RunFacts]:
    """The report and facts of a run from its groups' results, in group order (failed groups named)."""
    good = [r for r in results if r.error is None]
    report = merge_reports(
        [r.report for r in good],
        config.app.backtest.commission,
        unreadable,
        [{"group": r.key, "paths": list(r.paths), "error": r.error} for r in results if r.error],
        [PER_GROUP_NOTE],
    )
    return report, merge_facts([r.facts for r in good if r.facts is not None], config, unreadable)


def _chronological(args, config: LoadedConfig, started: float) -> int:
    from app.assembly import Mode, build
    from app.plugins import discover
    from app.progress import ProgressControl

    framework = build(
        Mode.BACKTEST,
        config,
        paths=args.paths or None,
        registry=discover(args.strategies_dir),
        strict=args.strict,
        chronological=True,
    )
    if wanted(args.quiet):
        framework.flumine.add_logging_control(ProgressControl(total_markets=len(framework.flumine.streams)))
    framework.run()
    errors = {s.name: s.hook_errors for s in framework.strategies if s.hook_errors}
    report = framework.report()
    show(report, str(framework.safety.kill_switch.state), errors)
    print_run(facts_of(framework), report, args.out, started, WallClock().now())
    return 0
