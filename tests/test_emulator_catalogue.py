"""The catalogue and the navigation menu exist from the start, before any stream subscription, named from a
listMarketCatalogue file when one is given and otherwise with names that say what they are."""

from __future__ import annotations

import json

import betfairlightweight
import pytest
import requests
from betfair_parser.spec.navigation import flatten_nav_tree

from core.exchange import ExchangeEndpoint, point_at
from emulator.catalogue import load_names
from emulator.server import Emulator
from tests.betfair_models import validate_navigation, validate_result
from tests.conftest import ROOT, real
from tests.live_helpers import CREDENTIALS

MENU = "/exchange/betting/rest/v1/en/navigation/menu.json"


def logged_in(emulator: Emulator) -> betfairlightweight.APIClient:
    """betfairlightweight's real client, logged in to the emulator."""
    trading = betfairlightweight.APIClient("u", "p", app_key=CREDENTIALS["BETFAIR_APP_KEY"])
    point_at(trading, ExchangeEndpoint.parse(emulator.url))
    trading.login_interactive()
    return trading


def headers(trading: betfairlightweight.APIClient) -> dict[str, str]:
    """The session's headers."""
    return {"X-Application": trading.app_key, "X-Authentication": trading.session_token}


def test_catalogue_and_menu_list_every_market_before_any_subscription(generated):
    paths = [ROOT / "recordings" / "race-1.gz", generated["football"]]
    with Emulator(paths) as emulator:
        trading = logged_in(emulator)
        catalogue = trading.betting.list_market_catalogue(
            market_projection=["EVENT", "EVENT_TYPE", "RUNNER_DESCRIPTION", "MARKET_START_TIME"], max_results=100
        )
        assert not emulator.exchange.started
        expected = set(emulator.exchange.catalogue.first)
        assert {m.market_id for m in catalogue} == expected and len(expected) > 1
        base = emulator.url.split("?")[0]
        menu = requests.get(f"{base}{MENU}", headers=headers(trading), timeout=5)
        flat = flatten_nav_tree(validate_navigation(menu.content))
        assert {m.market_id for m in flat} == expected
        assert {m.event_type_name for m in flat} == {"Horse Racing", "Soccer"}
        answer = requests.post(
            f"{base}/exchange/betting/rest/v1.0/listMarketCatalogue/", json={"filter": {}}, headers=headers(trading)
        )
        validate_result("listMarketCatalogue", answer.content)


def test_without_a_catalogue_file_names_say_what_they_are():
    with Emulator([real("1.197931750.bz2")]) as emulator:
        trading = logged_in(emulator)
        (market,) = trading.betting.list_market_catalogue(
            market_projection=["EVENT", "EVENT_TYPE", "RUNNER_DESCRIPTION"], max_results=10
        )
        definition = emulator.exchange.catalogue.first[market.market_id].definition
        unnamed = [r for r in definition["runners"] if not r.get("name")]
        assert unnamed, "this recording's definitions name no runners"
        names = {r.selection_id: r.runner_name for r in market.runners}
        assert all(names[r["id"]] == f"Runner {r['id']}" for r in unnamed)
        assert market.event_type.name and not market.event_type.name.isdigit()


def test_a_catalogue_file_names_events_markets_and_runners(tmp_path):
    recording = ROOT / "recordings" / "race-1.gz"
    with Emulator([recording]) as emulator:
        trading = logged_in(emulator)
        (market,) = trading.betting.list_market_catalogue(market_projection=["RUNNER_DESCRIPTION"], lightweight=True)
    market["marketName"] = "2m Hcap Chase"
    market["event"] = {"id": "1", "name": "Kempton 3rd Dec"}
    market["runners"][0]["runnerName"] = "Desert Orchid"
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"jsonrpc": "2.0", "result": [market], "id": 1}))
    assert set(load_names(path)) == {market["marketId"]}
    with Emulator([recording], catalogue=path) as emulator:
        trading = logged_in(emulator)
        (named,) = trading.betting.list_market_catalogue(market_projection=["EVENT", "RUNNER_DESCRIPTION"])
        assert (named.market_name, named.event.name) == ("2m Hcap Chase", "Kempton 3rd Dec")
        assert named.runners[0].runner_name == "Desert Orchid"
        menu = requests.get(f"{emulator.url.split('?')[0]}{MENU}", headers=headers(trading), timeout=5).json()
        assert "Kempton 3rd Dec" in json.dumps(menu)


def test_the_menu_needs_a_session(tmp_path):
    with Emulator([ROOT / "recordings" / "race-1.gz"]) as emulator:
        answer = requests.get(f"{emulator.url.split('?')[0]}{MENU}", headers={"X-Application": "k"}, timeout=5)
        assert answer.status_code == 400
        assert answer.json()["detail"]["APINGException"]["errorCode"] == "NO_SESSION"


def test_a_catalogue_file_that_is_not_one_is_one_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"result": 3}')
    with pytest.raises(Exception, match="expected a list of market catalogues"):
        Emulator([ROOT / "recordings" / "race-1.gz"], catalogue=path)
