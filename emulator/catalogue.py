"""The market catalogue and navigation menu, there from the start: every market's first recorded definition, with
names from a Betfair listMarketCatalogue file when one is given and, without one, names that say what they are.

A market not yet replayed is described by its first definition, its times moved as the replay will move them
(as if the replay started now, before it has); once replayed, by its current definition."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import EmulatorError
from emulator.book import MarketState
from emulator.replay import Message, shifted

EVENT_TYPES = {  # Betfair's event type names of the ids recordings hold most
    "1": "Soccer",
    "2": "Tennis",
    "4": "Cricket",
    "7": "Horse Racing",
    "4339": "Greyhound Racing",
    "7522": "Basketball",
}


@dataclass(frozen=True)
class First:
    """A market's first recorded definition and the message carrying it."""

    offset: float
    pt: int
    definition: dict


def load_names(path: str | Path) -> dict[str, dict]:
    """listMarketCatalogue entries by market id, from a JSON list or a JSON-RPC answer holding one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmulatorError(f"--catalogue {path}: cannot read a listMarketCatalogue JSON file ({exc})") from None
    if isinstance(data, dict):
        data = data.get("result")
    if not isinstance(data, list) or not all(isinstance(m, dict) and "marketId" in m for m in data):
        raise EmulatorError(f"--catalogue {path}: expected a list of market catalogues (listMarketCatalogue's result)")
    return {str(m["marketId"]): m for m in data}


class Catalogue:
    """Every market of the recordings from their first definitions, named from `names` where it has them."""

    def __init__(self, messages: list[Message], names: dict[str, dict] | None = None) -> None:
        self.names = names or {}
        self.first: dict[str, First] = {}
        self.recorded: dict[str, set[str]] = {}  # market id -> the runner fields its recording holds
        for message in messages:
            for change in message.changes:
                market_id = str(change.get("id"))
                fields = self.recorded.setdefault(market_id, set())
                for rc in change.get("rc") or ():
                    fields.update(rc)
                if market_id not in self.first and isinstance(change.get("marketDefinition"), dict):
                    self.first[market_id] = First(message.offset, message.pt, change["marketDefinition"])

    def definition(self, market_id: str, start_ms: int) -> dict:
        """A market's first definition, its times moved for a replay starting at start_ms."""
        first = self.first[market_id]
        change = {"id": market_id, "marketDefinition": first.definition}
        return shifted([change], start_ms + round(first.offset * 1000) - first.pt)[0]["marketDefinition"]

    def entry(self, market_id: str, d: dict, total_matched: float | None) -> dict:
        """The market's MarketCatalogue (every projection) from a definition."""
        named = self.names.get(market_id, {})
        event_type_id = str(d.get("eventTypeId"))
        event_id = str(d.get("eventId", ""))
        known = {int(r.get("selectionId", 0)): r for r in named.get("runners") or ()}
        entry = {
            "marketId": market_id,
            "marketName": named.get("marketName") or d.get("name") or f"{d.get('marketType', 'Market')} {market_id}",
            "marketStartTime": d.get("marketTime"),
            "totalMatched": total_matched or 0.0,
            "description": _description(d),
            "eventType": {
                "id": event_type_id,
                "name": _name(named, "eventType", EVENT_TYPES.get(event_type_id)) or f"Event type {event_type_id}",
            },
            "event": {
                "id": event_id,
                "name": _name(named, "event", d.get("eventName")) or f"Event {event_id}",
                "countryCode": d.get("countryCode"),
                "timezone": d.get("timezone", "GMT"),
                "venue": d.get("venue"),
                "openDate": d.get("openDate") or d.get("marketTime"),
            },
            "runners": [_runner(r, i, known.get(int(r["id"]), {})) for i, r in enumerate(d.get("runners", ()))],
        }
        entry["event"] = {k: v for k, v in entry["event"].items() if v is not None}
        if d.get("competitionId") or named.get("competition"):
            competition_id = str(d.get("competitionId") or named["competition"].get("id"))
            name = _name(named, "competition", d.get("competitionName")) or f"Competition {competition_id}"
            entry["competition"] = {"id": competition_id, "name": name}
        return entry

    def menu(self, definitions: dict[str, dict]) -> dict:
        """Betfair's navigation menu (menu.json) of these markets' definitions, by market id."""
        event_types: dict[str, dict] = {}
        for market_id, d in definitions.items():
            entry = self.entry(market_id, d, None)
            et = entry["eventType"]
            node = event_types.setdefault(et["id"], {"type": "EVENT_TYPE", "name": et["name"], "id": et["id"]})
            parent = node
            if "competition" in entry:
                parent = _child(node, "GROUP", entry["competition"]["id"], entry["competition"]["name"])
            event = entry["event"]
            event_node = _child(parent, "EVENT", event["id"], event["name"])
            event_node["countryCode"] = event.get("countryCode") or "GB"
            event_node.setdefault("children", []).append(
                {
                    "type": "MARKET",
                    "name": entry["marketName"],
                    "id": market_id,
                    "exchangeId": "1",
                    "marketType": d.get("marketType") or "UNKNOWN",
                    "marketStartTime": d.get("marketTime"),
                    "numberOfWinners": d.get("numberOfWinners", 1),
                }
            )
        return {"type": "GROUP", "name": "ROOT", "id": 0, "children": list(event_types.values())}


def _name(named: dict, key: str, fallback: str | None) -> str | None:
    return (named.get(key) or {}).get(f"{key}Name" if key == "competition" else "name") or fallback


def _child(node: dict, kind: str, node_id: str, name: str) -> dict:
    children = node.setdefault("children", [])
    for child in children:
        if child["type"] == kind and child["id"] == node_id:
            return child
    child = {"type": kind, "name": name, "id": node_id, "children": []}
    children.append(child)
    return child


def _runner(r: dict, index: int, named: dict) -> dict:
    return {
        "selectionId": r["id"],
        "runnerName": named.get("runnerName") or r.get("name") or f"Runner {r['id']}",
        "handicap": r.get("hc", 0.0),
        "sortPriority": r.get("sortPriority", index + 1),
        "metadata": named.get("metadata") or {"runnerId": str(r["id"])},
    }


def _description(d: dict) -> dict:
    description = {
        "persistenceEnabled": d.get("persistenceEnabled", True),
        "bspMarket": d.get("bspMarket", False),
        "marketTime": d.get("marketTime"),
        "suspendTime": d.get("suspendTime") or d.get("marketTime"),
        "bettingType": d.get("bettingType", "ODDS"),
        "turnInPlayEnabled": d.get("turnInPlayEnabled", True),
        "marketType": d.get("marketType") or "UNKNOWN",
        "regulator": d.get("regulators", ["GIBRALTAR REGULATOR"])[0] if d.get("regulators") else "GIBRALTAR REGULATOR",
        "marketBaseRate": d.get("marketBaseRate", 5.0),
        "discountAllowed": d.get("discountAllowed", True),
        "wallet": "UK wallet",
    }
    return {k: v for k, v in description.items() if v is not None}


def market_definitions(catalogue: Catalogue, markets: dict[str, MarketState], start_ms: int) -> dict[str, dict]:
    """Every market's definition now: the replayed one, else its first (moved for a replay starting at start_ms)."""
    out = {}
    for market_id in [*catalogue.first, *(m for m in markets if m not in catalogue.first)]:
        market = markets.get(market_id)
        if market is not None and market.definition:
            out[market_id] = market.definition
        elif market_id in catalogue.first:
            out[market_id] = catalogue.definition(market_id, start_ms)
    return out
