"""The command line: one subcommand per job."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from core.errors import UserError
from core.redact import redactor

SECRET_VARIABLES = ("BETFAIR_USERNAME", "BETFAIR_PASSWORD", "BETFAIR_APP_KEY", "PADDOCK_DB_URL", "SENTRY_DSN")

logger = logging.getLogger("paddock")


def _cmd_backtest(args) -> int:
    from app.assembly import Mode, build
    from app.plugins import discover
    from app.progress import ProgressControl
    from core.config import load_config

    config = load_config(args.config)
    framework = build(
        Mode.BACKTEST, config, paths=args.paths or None, registry=discover(args.strategies_dir), strict=args.strict
    )
    if sys.stdout.isatty() and not args.no_progress:
        framework.flumine.add_logging_control(ProgressControl(total_markets=len(framework.flumine.streams)))
    framework.run()
    _finish(framework, args.out)
    return 0


def _finish(framework, out: str | None) -> None:
    """Print the report of a finished run, and write it into `out` when given."""
    report = framework.report()
    print(report.table())
    unsettled = report.totals["unsettled_markets"]
    if unsettled:
        print(f"{unsettled} market(s) not settled: no P&L yet; open exposure {report.totals['open_exposure']:.2f}")
    for reason, count in report.refusal_reasons()[:10]:
        print(f"refused {count}x: {reason}")
    for path, lines in sorted(report.skipped.items()):
        first = min(lines)
        where = "the whole file" if first == 0 else f"{len(lines)} line(s), first line {first}"
        print(f"skipped in {path}: {where}: {lines[first]}", file=sys.stderr)
    for trip in report.trips:
        event = f" on event {trip.event_id}" if trip.event_id else ""
        print(f"kill switch {trip.state} at {trip.row()['time']}{event} by {trip.source}: {trip.reason}")
    print(f"kill switch: {framework.safety.kill_switch.state}")
    errors = {s.name: s.hook_errors for s in framework.strategies if s.hook_errors}
    for name, count in errors.items():
        print(f"warning: strategy {name}: {count} hook call(s) raised; see the log", file=sys.stderr)
    if out:
        for path in report.write(Path(out)):
            print(f"wrote {path}")


def _cmd_strategies(args) -> int:
    from app.plugins import discover

    registry = discover(args.strategies_dir)
    for name, plugin in sorted(registry.plugins.items()):
        print(f"{name}  ({plugin.cls.__module__}.{plugin.cls.__name__}, {plugin.source})")
        for key, info in plugin.params().items():
            print(f"    {key}: {info['type']} = {info['default']!r}  {info['description']}".rstrip())
    if registry.failures:
        print("\nfailed to load:")
        for failure in registry.failures:
            print(f"  {failure.source}: {failure.error}")
    return 0


def _cmd_new_strategy(args) -> int:
    from app.newstrategy import write_strategy

    path = write_strategy(args.name, args.strategies_dir)
    print(f"wrote {path}; run `python main.py strategies` to see it and add it to your config by name '{args.name}'")
    return 0


def _cmd_generate(args) -> int:
    from app.scenarios.generate import generate

    path = generate(args.scenario, Path(args.out), seed=args.seed)
    print(f"wrote {path}")
    return 0


def _stop_on_signals(stop) -> None:
    """SIGINT and SIGTERM ask the run to finish cleanly (the report and recordings are still written);
    a second one quits at once."""
    asked: list[int] = []

    def handler(signum, _frame) -> None:
        if asked:
            print("stopping now, without finishing", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(128 + signum)  # at once: a thread stuck in a call to the exchange must not hold the exit
        asked.append(signum)
        print(
            "stopping: finishing open work (a few seconds); signal again to quit at once",
            file=sys.stderr,
            flush=True,
        )
        stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)


def _inherited(framework, config_path, mode_name: str, refuse_halted: bool, start_halted: bool) -> None:
    """Say what kill-switch state a bot starts with when it is not ACTIVE; refuse a HALTED start unless asked."""
    switch = framework.safety.kill_switch
    if switch.state == "ACTIVE":
        return
    last = switch.history[-1].as_dict() if switch.history else {"time": "?", "source": "?", "reason": switch.reason}
    print(
        f"kill switch is {switch.state}, inherited from the last run: since {last['time']}, by {last['source']}: "
        f"{last['reason']}\n  reset it with: python main.py kill-switch reset --config {config_path} --mode {mode_name}",
        file=sys.stderr,
    )
    if refuse_halted and switch.state == "HALTED" and not start_halted:
        raise UserError(
            "live does not start while the kill switch is HALTED: reset it (above), or pass --start-halted to "
            "watch and manage open positions without new orders"
        )


def _cmd_exchange(mode_name: str, refuse_halted: bool):
    def run(args) -> int:
        from app.assembly import Mode, build
        from app.plugins import discover
        from core.config import load_config

        config = load_config(args.config)
        framework = build(
            Mode(mode_name),
            config,
            registry=discover(args.strategies_dir),
            exchange=args.exchange,
            until_closed=args.until_closed,
        )
        try:
            _inherited(framework, config.path, mode_name, refuse_halted, getattr(args, "start_halted", False))
        except UserError:
            framework.lock.release()  # it never started
            raise
        _stop_on_signals(framework.stop)
        framework.run()
        _finish(framework, args.out)
        return 0

    return run


def _cmd_record(args) -> int:
    from app.assembly import build_recorder
    from core.config import load_config

    config = load_config(args.config, require_strategies=False)
    run = build_recorder(config, out_dir=args.out, exchange=args.exchange, until_closed=args.until_closed)
    _stop_on_signals(run.stop)
    print(f"recording to {run.recorder.out_dir} (Ctrl-C to stop; open markets are finished on the way out)")
    run.run()
    for path in run.recorder.written:
        print(f"wrote {path}")
    return 0


def _cmd_emulate(args) -> int:
    import threading

    from emulator.faults import load_faults
    from emulator.server import Emulator

    faults = load_faults(args.faults) if args.faults else []
    emulator = Emulator(
        args.paths,
        port=args.port,
        speed=args.speed,
        max_gap=args.max_gap,
        faults=faults,
        username=args.username,
        password=args.password,
        app_key=args.app_key,
    ).start()
    print(f"emulating Betfair on {emulator.url} (stream on 127.0.0.1:{emulator.stream.port})")
    print(f"  python main.py live --config FILE --exchange {emulator.url}")
    print(f"  faults: POST {emulator.url.split('?')[0]}/emulator/faults   state: GET .../emulator/state")
    stopped = threading.Event()
    _stop_on_signals(stopped.set)
    try:
        while not stopped.wait(0.5):
            if args.exit_when_done and emulator.exchange.done.is_set():
                break
    finally:
        emulator.stop()
    return 0


def _cmd_kill_switch(args) -> int:

    from app.assembly import Mode, kill_switch_path
    from controls.killswitch import KillSwitch
    from controls.store import JsonFileStore
    from core.alerts import LogAlerts, alerts_from
    from core.clock import WallClock
    from core.config import load_config

    config = load_config(args.config)
    path = kill_switch_path(config, Mode(args.mode))
    alerts = alerts_from(os.environ) if args.action == "trip" else LogAlerts()  # `status` pages nobody
    switch = KillSwitch(WallClock(), JsonFileStore(path), alerts)
    if switch.damage:
        print(f"kill switch state file {path} cannot be read: {switch.damage}; it counts as HALTED")
        if args.action == "reset":
            print("reset: the damaged file is kept beside it and a new one written")
    if args.action == "trip":
        if not switch.trip(args.reason or "tripped by hand", source="manual"):
            print(f"kill switch already {switch.state}")
    elif args.action == "reset":
        switch.reset(args.reason or "reset by hand", source="manual")
    print(f"kill switch ({args.mode}, {path}): {switch.state}")
    for change in switch.history[-args.history :] if args.history else []:
        d = change.as_dict()
        print(f"  {d['time']}  {d['action']:<5} -> {d['state']:<8} {d['source']}: {d['reason']}")
    return 0


def _store_command(show):
    """A `runs` / `orders` / `pnl` command: the store of --config (or PADDOCK_DB_URL), read and shown."""

    def run(args) -> int:
        from app.auditquery import StoreReader
        from core.config import load_config

        reader = StoreReader(load_config(args.config, require_strategies=False))
        try:
            show(reader, args)
        finally:
            reader.close()
        return 0

    return run


def _show_runs(reader, args) -> None:
    from app.auditquery import print_runs

    print_runs(reader, args.limit)


def _show_orders(reader, args) -> None:
    from app.auditquery import print_orders

    print_orders(reader, args.run, args.market, args.strategy, args.csv)


def _show_pnl(reader, args) -> None:
    from app.auditquery import print_pnl

    print_pnl(reader, args.run, args.by)


def _subparser(common: argparse.ArgumentParser) -> type[argparse.ArgumentParser]:
    """A subcommand parser class that also takes the global options."""

    class Subparser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, parents=[common], **kwargs)

    return Subparser


def parser() -> argparse.ArgumentParser:
    """The argument parser of main.py."""
    from app.plugins import STRATEGIES_DIR

    p = argparse.ArgumentParser(prog="main.py", description="Betfair trading bots on flumine: backtest, paper, live.")
    p.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    p.add_argument("-v", "--verbose", action="store_true", help="say why strategies skip markets")
    # global options are taken after the subcommand too (`main.py backtest --log-level INFO`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-level", default=argparse.SUPPRESS, help="logging level (default WARNING)")
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="say why strategies skip markets"
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_subparser(common))

    def with_strategies_dir(sp):
        sp.add_argument("--strategies-dir", type=Path, default=STRATEGIES_DIR, help="folder of strategy plugins")
        return sp

    bt = with_strategies_dir(sub.add_parser("backtest", help="replay recordings through the configured strategies"))
    bt.add_argument("paths", nargs="*", help="recording files, directories or globs (default: [backtest] paths)")
    bt.add_argument("--config", help="config file (default: config.toml)")
    bt.add_argument("--out", help="folder for orders.csv and summary.json")
    bt.add_argument("--no-progress", action="store_true", help="no progress bar")
    bt.add_argument("--strict", action="store_true", help="stop at the first bad recording line (default: skip it)")
    bt.set_defaults(func=_cmd_backtest)

    st = with_strategies_dir(sub.add_parser("strategies", help="list strategy plugins, their params and load failures"))
    st.set_defaults(func=_cmd_strategies)

    ns = with_strategies_dir(sub.add_parser("new-strategy", help="write strategies/NAME.py from a working template"))
    ns.add_argument("name")
    ns.set_defaults(func=_cmd_new_strategy)

    gen = sub.add_parser("generate", help="write a scenario recording (football or race)")
    gen.add_argument("scenario", choices=["football", "race"])
    gen.add_argument("--out", required=True, help="recording file to write (.gz, .bz2 or plain)")
    gen.add_argument("--seed", type=int, default=1)
    gen.set_defaults(func=_cmd_generate)

    for mode_name, text in (("paper", "live data, simulated orders"), ("live", "live data, real orders")):
        sp = with_strategies_dir(sub.add_parser(mode_name, help=text))
        sp.add_argument("--config", required=True, help="config file")
        sp.add_argument("--exchange", help="URL of a local exchange (python main.py emulate); default: real Betfair")
        sp.add_argument("--out", help="folder for orders.csv and summary.json when stopped")
        sp.add_argument(
            "--until-closed",
            action="store_true",
            help="stop by itself once every market traded has closed and settled and no new one is offered",
        )
        if mode_name == "live":
            sp.add_argument(
                "--start-halted",
                action="store_true",
                help="start although the kill switch is HALTED (no new orders; cancels and hedges still pass)",
            )
        sp.set_defaults(func=_cmd_exchange(mode_name, refuse_halted=mode_name == "live"))
    rec = sub.add_parser("record", help="record live markets ([record] market_filter) as compressed stream files")
    rec.add_argument("--config", required=True, help="config file")
    rec.add_argument("--out", help="folder for the recordings (default: [record] out)")
    rec.add_argument("--exchange", help="URL of a local exchange; default: real Betfair")
    rec.add_argument(
        "--until-closed",
        action="store_true",
        help="stop once every market recorded has closed and no new one is offered",
    )
    rec.set_defaults(func=_cmd_record)
    em = sub.add_parser("emulate", help="run a local Betfair exchange replaying recordings")
    em.add_argument("paths", nargs="+", help="recording files, directories or globs")
    em.add_argument("--port", type=int, default=8080, help="REST port; the stream listens on PORT+1 (default 8080)")
    em.add_argument("--speed", type=float, default=1.0, help="replay speed factor (1 = real time)")
    em.add_argument("--max-gap", type=float, help="cap idle gaps between messages to this many market seconds")
    em.add_argument("--faults", help="TOML or JSON file of faults to inject")
    em.add_argument("--username", help="only accept this username (default: any)")
    em.add_argument("--password", help="only accept this password (default: any)")
    em.add_argument("--app-key", help="only accept this app key (default: any)")
    em.add_argument("--exit-when-done", action="store_true", help="stop when the replay has finished")
    em.set_defaults(func=_cmd_emulate)
    ks = sub.add_parser("kill-switch", help="show, trip or reset the kill switch of a live or paper bot")
    ks.add_argument("action", choices=["status", "trip", "reset"])
    ks.add_argument("--reason", help="why (recorded in the history)")
    ks.add_argument("--config", help="config file whose data_dir holds the state (default: config.toml)")
    ks.add_argument("--mode", choices=["live", "paper"], default="live", help="which bot's switch (default live)")
    ks.add_argument("--history", type=int, default=10, help="how many history entries to show (default 10)")
    ks.set_defaults(func=_cmd_kill_switch)
    store_help = "config file whose data_dir or [store] url holds the store (default: config.toml)"
    runs = sub.add_parser("runs", help="recent runs in the audit store, one line each")
    runs.add_argument("--config", help=store_help)
    runs.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    runs.set_defaults(func=_store_command(_show_runs))
    orders = sub.add_parser("orders", help="a run's orders from the audit store")
    orders.add_argument("--config", help=store_help)
    orders.add_argument("--run", default="last", help="run id, or last (default)")
    orders.add_argument("--market", help="only this market id")
    orders.add_argument("--strategy", help="only this strategy")
    orders.add_argument("--csv", action="store_true", help="as CSV, with the columns of orders.csv")
    orders.set_defaults(func=_store_command(_show_orders))
    pnl = sub.add_parser("pnl", help="a run's settled P&L from the audit store")
    pnl.add_argument("--config", help=store_help)
    pnl.add_argument("--run", default="last", help="run id, or last (default)")
    pnl.add_argument("--by", choices=["market", "strategy", "day"], default="market", help="grouping (default market)")
    pnl.set_defaults(func=_store_command(_show_pnl))
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one message and return 2."""
    args = parser().parse_args(argv)
    level = getattr(logging, str(args.log_level).upper(), None)
    if not isinstance(level, int):
        print(f"error: --log-level {args.log_level!r} is not a logging level", file=sys.stderr)
        return 2
    masks = redactor()  # first: no log line, at any level, shows a credential from the environment
    masks.add(*(os.environ.get(name) for name in SECRET_VARIABLES))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose:
        logging.getLogger("paddock.skips").setLevel(logging.INFO)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
