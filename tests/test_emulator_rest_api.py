"""The REST API as Betfair serves it, for clients other than betfairlightweight: JSON-RPC with the method in the path,
the REST form with the params as the body, and every answer (errors too) in Betfair's shapes, validated against
betfair-parser's strict models."""

from __future__ import annotations

import betfairlightweight
import pytest
import requests

from core.exchange import ExchangeEndpoint, point_at
from emulator.server import Emulator
from tests.betfair_models import validate_identity, validate_result, validate_rpc
from tests.conftest import ROOT
from tests.live_helpers import CREDENTIALS, wait_for

SERVICES = {"account": "AccountAPING", "betting": "SportsAPING"}


@pytest.fixture(scope="module")
def emulator():
    """An emulator replaying a generated race, never subscribed: its catalogue is there from the start."""
    with Emulator([ROOT / "recordings" / "race-1.gz"], app_key=CREDENTIALS["BETFAIR_APP_KEY"]) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def session(emulator) -> dict[str, str]:
    """Headers of a session logged in through betfairlightweight's real client."""
    trading = betfairlightweight.APIClient("u", "p", app_key=CREDENTIALS["BETFAIR_APP_KEY"])
    point_at(trading, ExchangeEndpoint.parse(emulator.url))
    trading.login_interactive()
    return {"X-Application": trading.app_key, "X-Authentication": trading.session_token}


def base(emulator: Emulator) -> str:
    """The REST base URL."""
    return emulator.url.split("?")[0]


def rpc_in_path(emulator, headers, service: str, operation: str, params: dict, request_id: int = 7):
    """POST a JSON-RPC request to .../json-rpc/v1/<Service>/v1.0/<method>, as betfair-parser's clients do."""
    method = f"{SERVICES[service]}/v1.0/{operation}"
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return requests.post(f"{base(emulator)}/exchange/{service}/json-rpc/v1/{method}", json=body, headers=headers)


def rest_form(emulator, headers, service: str, operation: str, params: dict):
    """POST the params to .../rest/v1.0/<method>/ (Betfair's REST form)."""
    return requests.post(f"{base(emulator)}/exchange/{service}/rest/v1.0/{operation}/", json=params, headers=headers)


READS = [
    ("account", "getAccountFunds", {}),
    ("account", "getAccountDetails", {}),
    ("betting", "listMarketCatalogue", {"filter": {}, "maxResults": 5}),
    ("betting", "listCurrentOrders", {}),
    ("betting", "listClearedOrders", {"betStatus": "SETTLED"}),
]


@pytest.mark.parametrize(("service", "operation", "params"), READS)
def test_json_rpc_with_the_method_in_the_path_answers_in_betfairs_model(emulator, session, service, operation, params):
    answer = rpc_in_path(emulator, session, service, operation, params)
    assert answer.status_code == 200
    parsed = validate_rpc(operation, answer.content)
    assert parsed.id == 7 and parsed.error is None and parsed.result is not None


@pytest.mark.parametrize(("service", "operation", "params"), READS)
def test_the_rest_form_answers_the_bare_result_in_betfairs_model(emulator, session, service, operation, params):
    answer = rest_form(emulator, session, service, operation, params)
    assert answer.status_code == 200, answer.text
    validate_result(operation, answer.content)


def test_a_request_naming_no_method_takes_it_from_the_path(emulator, session):
    url = f"{base(emulator)}/exchange/account/json-rpc/v1/AccountAPING/v1.0/getAccountFunds"
    answer = requests.post(url, json={"jsonrpc": "2.0", "id": 3}, headers=session)
    assert validate_rpc("getAccountFunds", answer.content).result.available_to_bet_balance == 10000.0


def test_an_apingexception_is_betfairs_error_object_in_json_rpc_and_a_400_fault_in_rest(emulator):
    no_session = {"X-Application": CREDENTIALS["BETFAIR_APP_KEY"]}
    rpc = rpc_in_path(emulator, no_session, "account", "getAccountFunds", {})
    error = validate_rpc("getAccountFunds", rpc.content).error
    assert (rpc.status_code, error.code, error.message) == (200, -32099, "AANGX-0003")
    assert (error.data.exception_name, error.exception_code) == ("AccountAPINGException", "NO_SESSION")
    betting = validate_rpc(
        "listCurrentOrders", rpc_in_path(emulator, no_session, "betting", "listCurrentOrders", {}).content
    )
    assert (betting.error.data.exception_name, betting.error.exception_code) == ("APINGException", "NO_SESSION")
    rest = rest_form(emulator, no_session, "betting", "listCurrentOrders", {})
    assert rest.status_code == 400
    assert rest.json() == {
        "faultcode": "Client",
        "faultstring": "ANGX-0003",
        "detail": {
            "APINGException": {"requestUUID": "emulator", "errorCode": "NO_SESSION", "errorDetails": ""},
            "exceptionname": "APINGException",
        },
    }


def test_unknown_operations_and_wrong_params_fail_as_betfair_says(emulator, session):
    unknown = validate_rpc("listCurrentOrders", rpc_in_path(emulator, session, "betting", "listNothing", {}).content)
    assert (unknown.error.code, unknown.error.message, unknown.id) == (-32601, "DSC-0021", 7)
    missing = rest_form(emulator, session, "betting", "listNothing", {})
    assert (missing.status_code, missing.json()["faultstring"]) == (404, "DSC-0021")
    wrong = validate_rpc(
        "listClearedOrders", rpc_in_path(emulator, session, "betting", "listClearedOrders", {"fromRecord": "x"}).content
    )
    assert (wrong.error.code, wrong.error.exception_code) == (-32602, "INVALID_INPUT_DATA")
    assert wrong.error.data.error.error_details == "fromRecord: expected an integer"
    bad = rest_form(emulator, session, "betting", "listClearedOrders", {"fromRecord": "x"})
    assert (bad.status_code, bad.json()["detail"]["APINGException"]["errorCode"]) == (400, "INVALID_INPUT_DATA")
    not_json = requests.post(
        f"{base(emulator)}/exchange/betting/rest/v1.0/listCurrentOrders/", data=b"{", headers=session
    )
    assert (not_json.status_code, not_json.json()["faultstring"]) == (400, "DSC-0008")


@pytest.mark.parametrize("operation", ["login", "keepAlive"])
def test_identity_answers_fit_betfairs_model(emulator, operation):
    headers = {"X-Application": CREDENTIALS["BETFAIR_APP_KEY"]}
    answer = requests.post(
        f"{base(emulator)}/api/{operation}", data={"username": "u", "password": "p"}, headers=headers
    )
    validate_identity(operation, answer.content)


def test_orders_placed_replaced_updated_and_cancelled_over_the_rest_form_validate(emulator, session):
    emulator.exchange.start_replay()  # as the first market subscription does: orders meet the replayed book
    wait_for(lambda: emulator.exchange.markets, 5, "the first market to be replayed")
    markets = rest_form(emulator, session, "betting", "listMarketCatalogue", {"filter": {}, "maxResults": 1}).json()
    market_id, selection = markets[0]["marketId"], markets[0]["runners"][0]["selectionId"]
    order = {"size": 2.0, "price": 1000.0, "persistenceType": "LAPSE"}
    place = {"selectionId": selection, "handicap": 0, "side": "BACK", "orderType": "LIMIT", "limitOrder": order}
    placed = rest_form(emulator, session, "betting", "placeOrders", {"marketId": market_id, "instructions": [place]})
    report = validate_result("placeOrders", placed.content)
    assert report.status == "SUCCESS", placed.text
    bet_id = str(report.instruction_reports[0].bet_id)
    replace = {"marketId": market_id, "instructions": [{"betId": bet_id, "newPrice": 990.0}]}
    replaced = validate_result(
        "replaceOrders", rest_form(emulator, session, "betting", "replaceOrders", replace).content
    )
    new_bet = str(replaced.instruction_reports[0].place_instruction_report.bet_id)
    update = {"marketId": market_id, "instructions": [{"betId": new_bet, "newPersistenceType": "PERSIST"}]}
    validate_result("updateOrders", rest_form(emulator, session, "betting", "updateOrders", update).content)
    cancelled = rest_form(emulator, session, "betting", "cancelOrders", {"marketId": market_id})
    assert validate_result("cancelOrders", cancelled.content).status == "SUCCESS"
