"""The report's figures from a run's files: per strategy, market and runner; drawdown, losing runs, by day and type."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from app.runfiles import RunFiles

MONEY = ["stake", "gross", "commission", "net"]


@dataclass(frozen=True)
class Analysis:
    """Every table of the report, each a DataFrame in a fixed order."""

    strategies: pd.DataFrame  # one row per strategy
    markets: pd.DataFrame  # per strategy and market, with the runners traded
    runners: pd.DataFrame  # per strategy, market and runner
    curve: pd.DataFrame  # per strategy, its settled markets in market-time order: net, cumulative, drawdown
    by_day: pd.DataFrame
    by_market_type: pd.DataFrame
    refusals: pd.DataFrame  # per strategy and kind of reason: count, first and last time

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name, in the report's order."""
        return {
            "strategies": self.strategies,
            "markets": self.markets,
            "runners": self.runners,
            "by_day": self.by_day,
            "by_market_type": self.by_market_type,
            "refusals": self.refusals,
        }


def _ratio(num: float, den: float, digits: int = 4) -> float:
    return round(num / den, digits) if den else float("nan")


def _bets(orders: pd.DataFrame, settled: bool = True) -> dict:
    """Strike rate (settled only: the share that won) and average odds of a group of orders: matched, not voided."""
    bets = orders[(orders["size_matched"] > 0) & (orders["size_voided"] < orders["size_matched"])]
    stake = float(bets["size_matched"].sum())
    odds = float((bets["average_price_matched"].fillna(0) * bets["size_matched"]).sum())
    strike = _ratio(int((bets["profit"] > 0).sum()), len(bets)) if settled else float("nan")
    return {"strike_rate": strike, "average_odds": _ratio(odds, stake, 2)}


def _runner_label(names: dict, selection_id) -> str:
    name = names.get(selection_id)
    return name if isinstance(name, str) and name else f"#{selection_id}"


def _market_label(fact: dict) -> str:
    def first(*keys: str) -> str | None:
        return next((fact[k] for k in keys if isinstance(fact.get(k), str) and fact[k]), None)

    parts = [first("event_name", "venue"), first("market_name", "market_type")]
    return " ".join(p for p in parts if p) or str(fact.get("market_id"))


def _market_rows(run: RunFiles, names: dict, facts: dict) -> pd.DataFrame:
    rows = []
    groups = dict(iter(run.orders.groupby(["strategy", "market_id"]))) if not run.orders.empty else {}
    empty = run.orders.iloc[0:0]
    for row in run.markets.to_dict(orient="records"):
        mine = groups.get((row["strategy"], row["market_id"]), empty)
        fact = facts.get(row["market_id"], {})
        traded = sorted({_runner_label(names.get(row["market_id"], {}), s) for s in mine["selection_id"]})
        settled = bool(row["settled"])
        net = row["pnl"] if settled else float("nan")
        rows.append(
            {
                "strategy": row["strategy"],
                "market_id": row["market_id"],
                "market": _market_label({**fact, "market_id": row["market_id"], "market_type": row["market_type"]}),
                "market_type": row["market_type"],
                "market_time": fact.get("market_time"),
                "closed_at": fact.get("closed_at") if isinstance(fact.get("closed_at"), str) else None,
                "settled": settled,
                "runners": ", ".join(traded),
                "orders": int(row["orders"]),
                "matched": int(row["matched"]),
                "stake": row["matched_stake"],
                "gross": row["gross_pnl"] if settled else float("nan"),
                "commission": row["commission"] if settled else float("nan"),
                "net": net,
                "roi": _ratio(net, row["matched_stake"]) if settled else float("nan"),
                **_bets(mine, settled),
                "refused": int(row["refused"]),
            }
        )
    frame = pd.DataFrame(rows, columns=MARKET_TABLE)
    numbers = [*MONEY, "roi", "strike_rate", "average_odds"]  # float even with no row (a run that traded nothing)
    frame[numbers] = frame[numbers].astype(float)
    frame[["orders", "matched", "refused"]] = frame[["orders", "matched", "refused"]].astype(int)
    frame["settled"] = frame["settled"].astype(bool)
    return frame


MARKET_TABLE = ["strategy", "market_id", "market", "market_type", "market_time", "closed_at", "settled", "runners",
                "orders", "matched", "stake", "gross", "commission", "net", "roi", "strike_rate", "average_odds",
                "refused"]  # fmt: skip


def _runner_rows(run: RunFiles, names: dict, settled: set) -> pd.DataFrame:
    rows = []
    if not run.orders.empty:
        for (strategy, market_id, selection_id), mine in run.orders.groupby(["strategy", "market_id", "selection_id"]):
            done = market_id in settled
            rows.append(
                {
                    "strategy": strategy,
                    "market_id": market_id,
                    "selection_id": int(selection_id),
                    "runner": _runner_label(names.get(market_id, {}), selection_id),
                    "orders": len(mine),
                    "matched": int((mine["size_matched"] > 0).sum()),
                    "stake": round(float(mine["size_matched"].sum()), 2),
                    "gross": round(float(mine["profit"].sum()), 2) if done else float("nan"),
                    **_bets(mine, done),
                }
            )
    columns = ["strategy", "market_id", "selection_id", "runner", "orders", "matched", "stake", "gross",
               "strike_rate", "average_odds"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _curve(markets: pd.DataFrame) -> pd.DataFrame:
    """Each strategy's settled markets with orders, by the market time they closed: net, cumulative, drawdown."""
    done = markets[markets["settled"] & (markets["orders"] > 0)].copy()
    done["at"] = done["closed_at"].fillna(done["market_time"])
    done = done.sort_values(["strategy", "at", "market_id"], kind="stable")
    done["cumulative"] = done.groupby("strategy")["net"].cumsum().round(2)
    peak = done.groupby("strategy")["cumulative"].cummax().clip(lower=0.0)
    done["drawdown"] = (done["cumulative"] - peak).round(2)
    return done[["strategy", "market_id", "market", "at", "net", "cumulative", "drawdown"]].reset_index(drop=True)


def _losing_run(nets: pd.Series) -> int:
    longest = current = 0
    for net in nets:
        current = current + 1 if net < 0 else 0
        longest = max(longest, current)
    return longest


def _totals(frame: pd.DataFrame, orders: pd.DataFrame) -> dict:
    settled = frame[frame["settled"]]
    net = round(float(settled["net"].sum()), 2)
    stake = round(float(settled["stake"].sum()), 2)
    return {
        "markets": int(frame["market_id"].nunique()),
        "orders": int(frame["orders"].sum()),
        "matched": int(frame["matched"].sum()),
        "stake": round(float(frame["stake"].sum()), 2),
        "gross": round(float(settled["gross"].sum()), 2),
        "commission": round(float(settled["commission"].sum()), 2),
        "net": net,
        "roi": _ratio(net, stake),
        **_bets(orders),
    }


def _strategy_rows(run: RunFiles, markets: pd.DataFrame, curve: pd.DataFrame, settled: set) -> pd.DataFrame:
    rows = []
    for strategy, frame in markets.groupby("strategy"):
        orders = run.orders[(run.orders["strategy"] == strategy) & run.orders["market_id"].isin(settled)]
        mine = curve[curve["strategy"] == strategy]
        rows.append(
            {
                "strategy": strategy,
                **_totals(frame, orders),
                "max_drawdown": round(-float(mine["drawdown"].min()), 2) + 0.0 if len(mine) else 0.0,  # no -0.0
                "longest_losing_run": _losing_run(mine["net"]),
                "refused": int(frame["refused"].sum()),
                "unsettled_markets": int((~frame["settled"]).sum()),
            }
        )
    columns = ["strategy", "markets", "orders", "matched", "stake", "gross", "commission", "net", "roi", "strike_rate",
               "average_odds", "max_drawdown", "longest_losing_run", "refused", "unsettled_markets"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _grouped(markets: pd.DataFrame, key: str, values: pd.Series) -> pd.DataFrame:
    settled = markets[markets["settled"]].assign(**{key: values})
    frame = settled.groupby(["strategy", key], as_index=False).agg(
        markets=("market_id", "nunique"), orders=("orders", "sum"), stake=("stake", "sum"), gross=("gross", "sum"),
        commission=("commission", "sum"), net=("net", "sum"),
    )  # fmt: skip
    frame[MONEY] = frame[MONEY].round(2)
    frame["roi"] = [_ratio(n, s) for n, s in zip(frame["net"], frame["stake"], strict=True)]
    return frame


def _refusal_rows(refusals: pd.DataFrame) -> pd.DataFrame:
    columns = ["strategy", "reason", "count", "first", "last"]
    if refusals.empty:
        return pd.DataFrame(columns=columns)
    frame = refusals.assign(reason=refusals["reason"].astype(str).str.replace(r"-?\d+(\.\d+)?", "#", regex=True))
    rows = [
        {
            "strategy": strategy,
            "reason": reason,
            "count": len(group),
            "first": _iso(group["at"].min()),
            "last": _iso(group["at"].max()),
        }
        for (strategy, reason), group in frame.groupby(["strategy", "reason"])
    ]
    return pd.DataFrame(rows, columns=columns).sort_values(
        ["strategy", "count"], ascending=[True, False], kind="stable"
    )


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(float(epoch), dt.UTC).isoformat(timespec="milliseconds")


def analyse(run: RunFiles) -> Analysis:
    """Every table of the report, from the run's files alone (so `report RUN_DIR` renders the same)."""
    names: dict[str, dict] = {}
    for row in run.runners.to_dict(orient="records"):
        names.setdefault(row["market_id"], {})[row["selection_id"]] = row["runner_name"]
    facts = {row["market_id"]: row for row in run.facts.to_dict(orient="records")}
    markets = _market_rows(run, names, facts)
    settled = set(markets.loc[markets["settled"], "market_id"])
    curve = _curve(markets)
    when = markets["closed_at"].fillna(markets["market_time"]).fillna("")
    return Analysis(
        strategies=_strategy_rows(run, markets, curve, settled),
        markets=markets,
        runners=_runner_rows(run, names, settled),
        curve=curve,
        by_day=_grouped(markets, "day", when.str[:10]),
        by_market_type=_grouped(markets, "market_type", markets["market_type"].fillna("?")),
        refusals=_refusal_rows(run.refusals).reset_index(drop=True),
    )
