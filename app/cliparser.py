"""The argument parser of main.py: every subcommand and its options."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.logformat import FORMATS

OUT_HELP = "folder to hold a new run folder: CSVs, summary.json, plots and report.html (DIR/LATEST names it)"
FORMAT_HELP = "log lines as text (default) or json: one JSON object a line, with market_id, strategy, bet_id"


def _subparser(common: argparse.ArgumentParser) -> type[argparse.ArgumentParser]:
    """A subcommand parser class that also takes the global options."""

    class Subparser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, parents=[common], **kwargs)

    return Subparser


def _metrics_port(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="serve Prometheus metrics on http://127.0.0.1:N/metrics (0: any free port; default: none)",
    )


def _quiet(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--quiet",
        "--no-progress",
        dest="quiet",
        action="store_true",
        help="no progress bar (there is none either when stdout is not a terminal)",
    )


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count}: give 1 or more")
    return count


def parser() -> argparse.ArgumentParser:
    """The argument parser of main.py."""
    from app.plugins import STRATEGIES_DIR

    p = argparse.ArgumentParser(prog="main.py", description="Betfair trading bots on flumine: backtest, paper, live.")
    p.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    p.add_argument("--log-format", choices=FORMATS, default="text", help=FORMAT_HELP)
    p.add_argument("-v", "--verbose", action="store_true", help="say why strategies skip markets")
    # global options are taken after the subcommand too (`main.py backtest --log-level INFO`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-level", default=argparse.SUPPRESS, help="logging level (default WARNING)")
    common.add_argument("--log-format", choices=FORMATS, default=argparse.SUPPRESS, help=FORMAT_HELP)
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
    bt.add_argument("--out", help=OUT_HELP)
    _quiet(bt)
    bt.add_argument("--strict", action="store_true", help="stop at the first bad recording line (default: skip it)")
    bt.add_argument(
        "--workers",
        type=_workers,
        help="event groups replayed at once, in worker processes (default: the machine's cores; 1: in this process)",
    )
    bt.add_argument(
        "--dask", metavar="ADDRESS", help="run the event groups on a Dask scheduler (tcp://HOST:PORT, or local)"
    )
    bt.add_argument(
        "--chronological",
        action="store_true",
        help="every market of every event in one publish-time order, in one process (cross-event limits exact)",
    )
    bt.set_defaults(command_name="backtest")

    sw = with_strategies_dir(
        sub.add_parser("sweep", help="backtest one strategy over a grid of its params, ranked by net P&L")
    )
    sw.add_argument("paths", nargs="*", help="recording files, directories or globs (default: [backtest] paths)")
    sw.add_argument("--strategy", required=True, metavar="NAME", help="the config's strategy to sweep (name or label)")
    sw.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="PARAM=A,B,...",
        help="a param and the values to try (repeat for more params; every combination runs)",
    )
    sw.add_argument(
        "--config", help="config file: the strategy's market filter and other params (default: config.toml)"
    )
    sw.add_argument("--out", default="out", help="folder to hold a new sweep folder: its table (CSV) and heat map "
                    "(default: out)")  # fmt: skip
    _quiet(sw)
    sw.add_argument("--strict", action="store_true", help="stop at the first bad recording line (default: skip it)")
    sw.add_argument("--workers", type=_workers, help="event groups replayed at once, over all combinations "
                    "(default: the machine's cores; 1: in this process)")  # fmt: skip
    sw.add_argument("--dask", metavar="ADDRESS", help="run them on a Dask scheduler (tcp://HOST:PORT, or local)")
    sw.set_defaults(command_name="sweep")

    st = with_strategies_dir(sub.add_parser("strategies", help="list strategy plugins, their params and load failures"))
    st.set_defaults(command_name="strategies")

    ns = with_strategies_dir(sub.add_parser("new-strategy", help="write strategies/NAME.py from a working template"))
    ns.add_argument("name")
    ns.set_defaults(command_name="new-strategy")

    gen = sub.add_parser("generate", help="write a scenario recording (football or race)")
    gen.add_argument("scenario", choices=["football", "race"])
    gen.add_argument("--out", required=True, help="recording file to write (.gz, .bz2 or plain)")
    gen.add_argument("--seed", type=int, default=1)
    gen.set_defaults(command_name="generate")

    for mode_name, text in (("paper", "live data, simulated orders"), ("live", "live data, real orders")):
        sp = with_strategies_dir(sub.add_parser(mode_name, help=text))
        sp.add_argument("--config", required=True, help="config file")
        sp.add_argument("--exchange", help="URL of a local exchange (python main.py emulate); default: real Betfair")
        sp.add_argument("--out", help=OUT_HELP + " (when stopped)")
        sp.add_argument(
            "--until-closed",
            action="store_true",
            help="stop by itself once every market traded has closed and settled and no new one is offered",
        )
        _metrics_port(sp)
        if mode_name == "live":
            sp.add_argument(
                "--start-halted",
                action="store_true",
                help="start although the kill switch is HALTED (no new orders; cancels and hedges still pass)",
            )
        sp.set_defaults(command_name=mode_name)
    rec = sub.add_parser("record", help="record live markets ([record] market_filter) as compressed stream files")
    rec.add_argument("--config", required=True, help="config file")
    rec.add_argument("--out", help="folder for the recordings (default: [record] out)")
    rec.add_argument("--exchange", help="URL of a local exchange; default: real Betfair")
    rec.add_argument(
        "--until-closed",
        action="store_true",
        help="stop once every market recorded has closed and no new one is offered",
    )
    _metrics_port(rec)
    rec.set_defaults(command_name="record")
    em = sub.add_parser("emulate", help="run a local Betfair exchange replaying recordings")
    em.add_argument("paths", nargs="+", help="recording files, directories or globs")
    em.add_argument("--port", type=int, default=8080, help="REST port; the stream listens on PORT+1 (default 8080)")
    em.add_argument("--speed", type=float, default=1.0, help="replay speed factor (1 = real time)")
    em.add_argument("--max-gap", type=float, help="cap idle gaps between messages to this many market seconds")
    em.add_argument("--faults", help="TOML or JSON file of faults to inject")
    em.add_argument("--username", help="only accept this username (default: any)")
    em.add_argument("--password", help="only accept this password (default: any)")
    em.add_argument("--app-key", help="only accept this app key (default: any)")
    em.add_argument("--catalogue", help="Betfair listMarketCatalogue JSON naming events, markets and runners")
    em.add_argument("--ca-out", help="write the local CA that signs the stream's TLS certificate to FILE")
    em.add_argument(
        "--stream-plain-port", type=int, help="also serve the stream without TLS on 127.0.0.1:N (local use only)"
    )
    em.add_argument("--exit-when-done", action="store_true", help="stop when the replay has finished")
    em.set_defaults(command_name="emulate")
    ks = sub.add_parser("kill-switch", help="show, trip or reset the kill switch of a live or paper bot")
    ks.add_argument("action", choices=["status", "trip", "reset"])
    ks.add_argument("--reason", help="why (recorded in the history)")
    ks.add_argument("--config", help="config file whose data_dir holds the state (default: config.toml)")
    ks.add_argument("--mode", choices=["live", "paper"], default="live", help="which bot's switch (default live)")
    ks.add_argument("--history", type=int, default=10, help="how many history entries to show (default 10)")
    ks.set_defaults(command_name="kill-switch")
    cfg = sub.add_parser("config", help="show the effective config (defaults filled in, secrets masked)")
    cfg.add_argument("action", choices=["show"])
    cfg.add_argument("--config", help="config file (default: config.toml)")
    cfg.set_defaults(command_name="config")
    store_help = "config file whose data_dir or [store] url holds the store (default: config.toml)"
    runs = sub.add_parser("runs", help="recent runs in the audit store, one line each")
    runs.add_argument("--config", help=store_help)
    runs.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    runs.set_defaults(command_name="runs")
    orders = sub.add_parser("orders", help="a run's orders from the audit store")
    orders.add_argument("--config", help=store_help)
    orders.add_argument("--run", default="last", help="run id, or last (default)")
    orders.add_argument("--market", help="only this market id")
    orders.add_argument("--strategy", help="only this strategy")
    orders.add_argument("--csv", action="store_true", help="as CSV, with the columns of orders.csv")
    orders.set_defaults(command_name="orders")
    pnl = sub.add_parser("pnl", help="a run's settled P&L from the audit store")
    pnl.add_argument("--config", help=store_help)
    pnl.add_argument("--run", default="last", help="run id, or last (default)")
    pnl.add_argument("--by", choices=["market", "strategy", "day"], default="market", help="grouping (default market)")
    pnl.set_defaults(command_name="pnl")
    rep = sub.add_parser("report", help="draw a run folder's plots and report.html again, print its tables")
    rep.add_argument("run_dir", metavar="RUN_DIR", help="a run folder, or an --out DIR (its LATEST run)")
    rep.set_defaults(command_name="report")
    cmp = sub.add_parser("compare", help="per strategy, what changed between two runs: orders, net, ROI, drawdown")
    cmp.add_argument("run_a", metavar="RUN_A", help="the first run folder (or an --out DIR: its LATEST)")
    cmp.add_argument("run_b", metavar="RUN_B", help="the second run folder")
    cmp.set_defaults(command_name="compare")
    return p
