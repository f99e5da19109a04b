"""The emulator's matching against flumine's backtest on the same books: latency, bet delay, takers and resting
orders, FILL_OR_KILL, non-runners and their reduction factors; split images; the catalogue's filter."""

from __future__ import annotations

import pytest
from flumine.order.order import OrderStatus

from emulator import api
from emulator.book import MarketState
from emulator.exchange import Exchange
from tests.emulator_scenarios import MARKET, Listening, T, backtest, definition, emulate, instruction, write

BACK_3 = instruction(11, "BACK", 3.0, 2.0)


def _fills(emulated, n: int = 0) -> list[tuple[float, float]]:
    bet_id = emulated.answers[n]["instructionReports"][0]["betId"]
    return emulated.exchange.engine.orders[bet_id].fills


def test_an_order_meets_the_book_standing_when_the_first_update_past_the_latency_arrives(tmp_path):
    path = write(
        tmp_path / "latency.json",
        [
            (0, {"marketDefinition": definition(), "rc": [{"id": 11, "atb": [[3.0, 10]], "atl": [[3.1, 10]]}]}),
            (100, {"rc": [{"id": 11, "atb": [[3.2, 10]]}]}),  # within place_latency (120 ms) of the order
            (200, {"rc": [{"id": 11, "atb": [[3.4, 10]]}]}),  # the first update past it: matched on the book before
            (1000, {"rc": [{"id": 12, "ltp": 5.0}]}),
        ],
    )
    emulated = emulate(path, {0: [BACK_3]})
    (flumine,) = backtest(path, {0: [BACK_3]})
    assert emulated.reached == [2]
    assert _fills(emulated) == [(3.2, 2.0)]  # the taker gets the better price on offer then
    assert [(m[1], m[2]) for m in flumine.simulated.matched] == _fills(emulated)
    report = emulated.answers[0]["instructionReports"][0]
    assert (report["sizeMatched"], report["averagePriceMatched"], report["orderStatus"]) == (
        2.0,
        3.2,
        "EXECUTION_COMPLETE",
    )


def _in_play(status: str = "OPEN") -> dict:
    return definition(inPlay=True, betDelay=1, status=status)


def test_in_play_an_order_waits_latency_plus_bet_delay_and_a_suspension_in_between_does_not_lapse_it(tmp_path):
    path = write(
        tmp_path / "delay.json",
        [
            (0, {"marketDefinition": _in_play(), "rc": [{"id": 11, "atb": [[2.0, 10]], "atl": [[2.1, 10]]}]}),
            (500, {"marketDefinition": _in_play("SUSPENDED")}),
            (800, {"marketDefinition": _in_play(), "rc": [{"id": 11, "atb": [[2.2, 10]]}]}),
            (1120, {"rc": [{"id": 11, "atb": [[2.4, 10]]}]}),  # exactly latency + delay: a passive order goes now
            (1300, {"rc": [{"id": 11, "atb": [[2.6, 10]]}]}),  # the first past it: the crossing one goes now
            (3000, {"rc": [{"id": 12, "ltp": 5.0}]}),
        ],
    )
    back = instruction(11, "BACK", 2.0, 2.0)
    lay = instruction(11, "LAY", 1.5, 2.0, persistenceType="PERSIST")  # does not cross: rests
    emulated = emulate(path, {0: [back, lay]})
    flumine_back, flumine_lay = backtest(path, {0: [back, lay]})
    assert emulated.reached == [4, 3]
    assert _fills(emulated) == [(2.4, 2.0)] == [(m[1], m[2]) for m in flumine_back.simulated.matched]
    assert flumine_lay.responses.date_time_placed.timestamp() * 1000 == T + 1120
    assert emulated.answers[1]["instructionReports"][0]["orderStatus"] == "EXECUTABLE"


def test_an_order_whose_market_is_suspended_when_it_reaches_the_book_fails(tmp_path):
    path = write(
        tmp_path / "suspended.json",
        [
            (0, {"marketDefinition": definition(), "rc": [{"id": 11, "atb": [[3.0, 10]], "atl": [[3.1, 10]]}]}),
            (100, {"marketDefinition": definition(status="SUSPENDED")}),
            (200, {"marketDefinition": definition()}),
            (1000, {"rc": [{"id": 12, "ltp": 5.0}]}),
        ],
    )
    emulated = emulate(path, {0: [BACK_3]})
    (flumine,) = backtest(path, {0: [BACK_3]})
    answer = emulated.answers[0]
    assert answer["status"] == "FAILURE" and answer["instructionReports"][0]["errorCode"] == "ERROR_IN_ORDER"
    assert flumine.status == OrderStatus.EXECUTION_COMPLETE and flumine.size_matched == 0
    assert not emulated.exchange.engine.orders


def test_fill_or_kill_is_decided_when_the_order_reaches_the_book(tmp_path):
    path = write(
        tmp_path / "fok.json",
        [
            (0, {"marketDefinition": definition(), "rc": [{"id": 11, "atb": [[3.0, 1]], "atl": [[3.1, 10]]}]}),
            (100, {"rc": [{"id": 11, "atb": [[3.0, 5]]}]}),  # enough on offer by the time it arrives
            (200, {"rc": [{"id": 12, "ltp": 5.0}]}),
        ],
    )
    fok = instruction(11, "BACK", 3.0, 2.0, timeInForce="FILL_OR_KILL")
    emulated = emulate(path, {0: [fok]})
    (flumine,) = backtest(path, {0: [fok]})
    assert _fills(emulated) == [(3.0, 2.0)] == [(m[1], m[2]) for m in flumine.simulated.matched]
    assert emulated.answers[0]["instructionReports"][0]["orderStatus"] == "EXECUTION_COMPLETE"


def test_a_resting_order_the_book_moves_through_is_matched_at_its_own_price(tmp_path):
    path = write(
        tmp_path / "resting.json",
        [
            (0, {"marketDefinition": definition(), "rc": [{"id": 11, "atb": [[2.9, 10]], "atl": [[3.1, 10]]}]}),
            (200, {"rc": [{"id": 12, "ltp": 5.0}]}),  # the back at 3.0 reaches the book: nothing crosses it, it rests
            (1000, {"rc": [{"id": 11, "atb": [[3.2, 5]]}]}),  # layers now offer 3.2: the back at 3.0 is taken
        ],
    )
    emulated = emulate(path, {0: [BACK_3]})
    assert emulated.answers[0]["instructionReports"][0]["orderStatus"] == "EXECUTABLE"
    assert _fills(emulated) == [(3.0, 2.0)]  # its own price: only the taker, at placement, is improved


def _removal(path, factor: float):
    removed = {11: {"status": "REMOVED", "adjustmentFactor": factor, "removalDate": "2023-11-14T22:20:00.000Z"}}
    closed = {**removed, 12: {"status": "WINNER"}, 13: {"status": "LOSER"}}
    return write(
        path,
        [
            (
                0,
                {
                    "marketDefinition": definition(),
                    "rc": [{"id": 11, "atb": [[5.0, 50]]}, {"id": 12, "atb": [[10.0, 50]]}],
                },
            ),
            (200, {"rc": [{"id": 13, "ltp": 4.0}]}),
            (5000, {"marketDefinition": definition(removed, numberOfActiveRunners=2, version=2)}),
            (6000, {"marketDefinition": definition(closed, status="CLOSED", numberOfActiveRunners=2, version=3)}),
        ],
    )


def test_a_non_runner_voids_its_bets_and_reduces_the_prices_matched_before_its_removal(tmp_path):
    path = _removal(tmp_path / "removal.json", factor=10.0)
    orders = {0: [instruction(12, "BACK", 10.0, 2.0), instruction(11, "BACK", 5.0, 2.0)]}
    listening = Listening()
    emulated = emulate(path, orders, subscriber=listening)
    on_12, on_11 = backtest(path, orders)
    exchange = emulated.exchange
    settled = api.list_cleared_orders(exchange, {"betStatus": "SETTLED"})["clearedOrders"]
    assert [(c["selectionId"], c["priceMatched"], c["priceReduced"], c["profit"]) for c in settled] == [
        (12, 9.0, True, 16.0)
    ]  # 10.0 less 10 %, won: 2 x (9.0 - 1)
    assert (on_12.simulated.average_price_matched, on_12.simulated.profit) == (9.0, 16.0)  # as flumine settles it
    voided = api.list_cleared_orders(exchange, {"betStatus": "VOIDED"})["clearedOrders"]
    assert [(c["selectionId"], c["sizeSettled"]) for c in voided] == [(11, 2.0)]
    assert on_11.simulated.size_matched == 0 and on_11.simulated.size_voided == 2.0
    bet = settled[0]["betId"]
    current = api.list_current_orders(exchange, {"betIds": [bet]})["currentOrders"]
    assert current == []  # settled: listed by listClearedOrders only, as Betfair does
    assert [u["avp"] for u in listening.orders if u["id"] == bet][-1] == 9.0  # the order stream says so too


def test_a_reduction_factor_under_2_5_percent_reduces_nothing(tmp_path):
    emulated = emulate(_removal(tmp_path / "small.json", factor=2.0), {0: [instruction(12, "BACK", 10.0, 2.0)]})
    settled = api.list_cleared_orders(emulated.exchange, {"betStatus": "SETTLED"})["clearedOrders"]
    assert [(c["priceMatched"], c["priceReduced"], c["profit"]) for c in settled] == [(10.0, False, 18.0)]


def test_a_runner_sent_whole_over_several_entries_of_an_image_keeps_every_entry():
    market = MarketState(MARKET)
    market.apply({"id": MARKET, "img": True, "rc": [{"id": 11, "atb": [[2.0, 5.0]], "trd": [[2.0, 9.0]]}]})
    market.apply(
        {
            "id": MARKET,
            "img": True,
            "rc": [{"id": 11, "atb": [[2.1, 4.0]]}, {"id": 11, "atl": [[2.2, 6.0]]}, {"id": 11, "ltp": 2.1}],
        }
    )
    runner = market.runner(11)
    assert (runner.prices["atb"], runner.prices["atl"], runner.prices["trd"]) == ({2.1: 4.0}, {2.2: 6.0}, {})
    assert runner.scalars == {"ltp": 2.1}


@pytest.mark.parametrize(
    ("wanted", "listed"),
    [
        ({}, ["1.1", "1.2"]),
        ({"marketTypeCodes": ["PLACE"]}, ["1.2"]),
        ({"marketCountries": ["GB"]}, ["1.1"]),
        ({"marketTypeCodes": ["WIN"], "marketCountries": ["IE"]}, []),
    ],
)
def test_the_catalogue_lists_open_markets_by_type_and_country(wanted, listed):
    exchange = Exchange([])
    for market_id, market_type, country, status in (
        ("1.1", "WIN", "GB", "OPEN"),
        ("1.2", "PLACE", "IE", "SUSPENDED"),
        ("1.3", "WIN", "GB", "CLOSED"),
    ):
        market = exchange.markets[market_id] = MarketState(market_id)
        market.apply(
            {
                "id": market_id,
                "marketDefinition": definition(marketType=market_type, countryCode=country, status=status),
            }
        )
    got = api.list_market_catalogue(exchange, {"filter": wanted})
    assert [m["marketId"] for m in got] == listed
