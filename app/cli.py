"""The command line: one subcommand per job."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from app.cliparser import parser
from core.clock import WallClock
from core.errors import UserError
from core.latency import format_summary
from core.logformat import configure_logging
from core.redact import redactor

SECRET_VARIABLES = (
    "BETFAIR_USERNAME",
    "BETFAIR_PASSWORD",
    "BETFAIR_APP_KEY",
    "PADDOCK_DB_URL",
    "SENTRY_DSN",
    "PADDOCK_WEBHOOK_URL",
)

logger = logging.getLogger("paddock")


def _cmd_backtest(args) -> int:
    from app.backtestrun import run_backtest

    return run_backtest(args)


def _cmd_sweep(args) -> int:
    from app.sweeprun import run_sweep

    return run_sweep(args)


def _finish(framework, out: str | None, started: float) -> None:
    """Print the report of a finished paper or live run, and write a new run folder into `out` when given."""
    from app.runfacts import facts_of
    from app.runoutput import show
    from app.runreport import print_run

    report = framework.report()
    errors = {s.name: s.hook_errors for s in framework.strategies if s.hook_errors}
    show(report, str(framework.safety.kill_switch.state), errors)
    if framework.latency is not None:
        print(format_summary(framework.latency.summary()))
    print_run(facts_of(framework), report, out, started, WallClock().now())


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
        # one write: print's separate newline could land inside a log line another thread writes meanwhile
        sys.stderr.write("stopping: finishing open work (a few seconds); signal again to quit at once\n")
        sys.stderr.flush()
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

        started = WallClock().now()
        config = load_config(args.config)
        framework = build(
            Mode(mode_name),
            config,
            registry=discover(args.strategies_dir),
            exchange=args.exchange,
            until_closed=args.until_closed,
            metrics_port=args.metrics_port,
        )
        try:
            _inherited(framework, config.path, mode_name, refuse_halted, getattr(args, "start_halted", False))
        except UserError:
            if framework.metrics is not None:
                framework.metrics.close()
            framework.lock.release()  # it never started
            raise
        _say_metrics(framework.metrics)
        _stop_on_signals(framework.stop)
        framework.run()
        _finish(framework, args.out, started)
        return 0

    return run


def _say_metrics(metrics) -> None:
    if metrics is not None:
        print(f"metrics on http://127.0.0.1:{metrics.port}/metrics", file=sys.stderr, flush=True)


def _cmd_record(args) -> int:
    from app.assembly import build_recorder
    from core.config import load_config

    config = load_config(args.config, require_strategies=False)
    run = build_recorder(
        config, out_dir=args.out, exchange=args.exchange, until_closed=args.until_closed, metrics_port=args.metrics_port
    )
    _stop_on_signals(run.stop)
    _say_metrics(run.metrics)
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
        catalogue=args.catalogue,
        ca_out=args.ca_out,
        stream_plain_port=args.stream_plain_port,
    ).start()
    print(f"emulating Betfair on {emulator.url} (stream on 127.0.0.1:{emulator.stream.port}, TLS)")
    if args.ca_out:
        print(f"  the stream's certificate is signed by the local CA written to {args.ca_out}")
    if emulator.plain is not None:
        print(f"  plain stream (no TLS, local use only) on 127.0.0.1:{emulator.plain.port}")
    for note in emulator.notes():
        print(f"  {note}")
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
    from core.alerts import LogAlerts, alerts_for
    from core.clock import WallClock
    from core.config import load_config

    config = load_config(args.config)
    path = kill_switch_path(config, Mode(args.mode))
    alerts = alerts_for(config, os.environ) if args.action == "trip" else LogAlerts()  # `status` pages nobody
    try:
        switch = KillSwitch(WallClock(), JsonFileStore(path), alerts)
        _kill_switch_action(switch, path, args)
    finally:
        alerts.close()  # the trip's alert is sent before the command returns
    return 0


def _kill_switch_action(switch, path, args) -> None:
    """What `kill-switch` was asked to do, and the state it leaves."""
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


def _cmd_config(args) -> int:
    from app.configshow import config_text
    from core.config import load_config

    print(config_text(load_config(args.config, require_strategies=False), os.environ), end="")
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


def _cmd_report(args) -> int:
    from app.runreport import cmd_report

    return cmd_report(args)


def _cmd_compare(args) -> int:
    from app.compare import cmd_compare

    return cmd_compare(args)


def _show_runs(reader, args) -> None:
    from app.auditquery import print_runs

    print_runs(reader, args.limit)


def _show_orders(reader, args) -> None:
    from app.auditquery import print_orders

    print_orders(reader, args.run, args.market, args.strategy, args.csv)


def _show_pnl(reader, args) -> None:
    from app.auditquery import print_pnl

    print_pnl(reader, args.run, args.by)


COMMANDS = {
    "backtest": _cmd_backtest,
    "sweep": _cmd_sweep,
    "strategies": _cmd_strategies,
    "new-strategy": _cmd_new_strategy,
    "generate": _cmd_generate,
    "paper": _cmd_exchange("paper", refuse_halted=False),
    "live": _cmd_exchange("live", refuse_halted=True),
    "record": _cmd_record,
    "emulate": _cmd_emulate,
    "kill-switch": _cmd_kill_switch,
    "config": _cmd_config,
    "runs": _store_command(_show_runs),
    "orders": _store_command(_show_orders),
    "pnl": _store_command(_show_pnl),
    "report": _cmd_report,
    "compare": _cmd_compare,
}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one message and return 2."""
    args = parser().parse_args(argv)
    run = COMMANDS[args.command_name]
    level = getattr(logging, str(args.log_level).upper(), None)
    if not isinstance(level, int):
        print(f"error: --log-level {args.log_level!r} is not a logging level", file=sys.stderr)
        return 2
    masks = redactor()  # first: no log line, at any level, shows a credential from the environment
    masks.add(*(os.environ.get(name) for name in SECRET_VARIABLES))
    configure_logging(level, args.log_format)
    if args.verbose:
        logging.getLogger("paddock.skips").setLevel(logging.INFO)
    try:
        return run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
