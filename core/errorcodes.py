"""Betfair's error codes in one table, each classified by what the bot must do about it, and where to find them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What the bot does when the exchange answers with a code."""

    RETRY = "retry"  # transient: the same call may succeed later (with backoff)
    RENEW_SESSION = "renew_session"  # the session is gone: log in again, then retry
    REFUSE = "refuse"  # this request will not succeed as it is: report it, do not retry
    TRIP = "trip"  # the exchange is throttling us: stop trading (the kill switch trips)


@dataclass(frozen=True)
class ErrorCode:
    """One Betfair error code: what to do, and whether it fails a whole call (an APINGException)."""

    code: str
    action: Action
    aping: bool = False  # True: answered as an APINGException (the call fails); else in an execution report
    login: bool = False  # True: a login answer (loginStatus / error)


_R, _S, _F, _T = Action.RETRY, Action.RENEW_SESSION, Action.REFUSE, Action.TRIP

_TABLE = [
    # APINGException codes: the whole call fails
    ErrorCode("TOO_MANY_REQUESTS", _T, aping=True),
    ErrorCode("INVALID_SESSION_INFORMATION", _S, aping=True),
    ErrorCode("NO_SESSION", _S, aping=True),
    ErrorCode("NO_APP_KEY", _F, aping=True),
    ErrorCode("INVALID_APP_KEY", _F, aping=True, login=True),
    ErrorCode("SERVICE_BUSY", _R, aping=True),
    ErrorCode("TIMEOUT_ERROR", _R, aping=True),
    ErrorCode("UNEXPECTED_ERROR", _R, aping=True),
    ErrorCode("ACCESS_DENIED", _F, aping=True),
    ErrorCode("INVALID_INPUT_DATA", _F, aping=True),
    ErrorCode("REQUEST_SIZE_EXCEEDS_LIMIT", _F, aping=True),
    ErrorCode("TOO_MUCH_DATA", _F, aping=True),
    # execution report codes (placeOrders, cancelOrders ...): the call answers, the instructions fail
    ErrorCode("TRANSACTION_THROTTLE_EXCEEDED", _T),
    ErrorCode("REQUEST_THROTTLED", _T),
    ErrorCode("TOO_MANY_TRANSACTIONS", _T),
    ErrorCode("DUPLICATE_TRANSACTION", _F),
    ErrorCode("MARKET_SUSPENDED", _F),
    ErrorCode("MARKET_NOT_OPEN_FOR_BETTING", _F),
    ErrorCode("INSUFFICIENT_FUNDS", _F),
    ErrorCode("BET_ACTION_ERROR", _F),
    ErrorCode("INVALID_MARKET_ID", _F),
    ErrorCode("ERROR_IN_ORDER", _F),
    ErrorCode("PERMISSION_DENIED", _F),
    ErrorCode("LOSS_LIMIT_EXCEEDED", _F),
    ErrorCode("MARKET_NOT_OPEN_FOR_BSP_BETTING", _F),
    ErrorCode("INVALID_ODDS", _F),
    ErrorCode("INVALID_BET_SIZE", _F),
    ErrorCode("BET_TAKEN_OR_LAPSED", _F),
    ErrorCode("RUNNER_REMOVED", _F),
    ErrorCode("INVALID_ORDER_TYPE", _F),
    # login answers that no retry will change
    ErrorCode("INVALID_USERNAME_OR_PASSWORD", _F, login=True),
    ErrorCode("ACCOUNT_NOW_LOCKED", _F, login=True),
    ErrorCode("ACCOUNT_ALREADY_LOCKED", _F, login=True),
    ErrorCode("CERT_AUTH_REQUIRED", _F, login=True),
    ErrorCode("ACTIONS_REQUIRED", _F, login=True),
    ErrorCode("SECURITY_QUESTION_WRONG_3X", _F, login=True),
    ErrorCode("CLOSED", _F, login=True),
    ErrorCode("ACCOUNT_PENDING_PASSWORD_CHANGE", _F, login=True),
    ErrorCode("TEMPORARY_BAN_TOO_MANY_REQUESTS", _F, login=True),
    ErrorCode("SUSPENDED", _F, login=True),
    ErrorCode("KYC_SUSPEND", _F, login=True),
    ErrorCode("NOT_AUTHORIZED_BY_REGULATOR_GB", _F, login=True),
]
CODES: dict[str, ErrorCode] = {e.code: e for e in _TABLE}

DUPLICATE_TRANSACTION = "DUPLICATE_TRANSACTION"  # placeOrders refused: the same customerRef was accepted within 60 s


def action_of(code: str) -> Action:
    """What to do about a code; an unknown code is refused (never retried blindly, never ignored)."""
    entry = CODES.get(code)
    return entry.action if entry else Action.REFUSE


def codes_where(action: Action | None = None, *, aping: bool | None = None, login: bool | None = None) -> frozenset:
    """The codes of the table with this action (and APING / login flag)."""
    return frozenset(
        e.code
        for e in _TABLE
        if (action is None or e.action is action)
        and (aping is None or e.aping == aping)
        and (login is None or e.login == login)
    )


THROTTLE_CODES = tuple(sorted(codes_where(Action.TRIP)))
SESSION_CODES = codes_where(Action.RENEW_SESSION)
APING_CODES = codes_where(aping=True)
REFUSED_LOGIN_CODES = codes_where(Action.REFUSE, login=True)


def worth_retrying(code: str) -> bool:
    """Whether a failed call may succeed if sent again later: transient trouble or throttling."""
    return action_of(code) in (Action.RETRY, Action.TRIP)


def _from_aping(response: dict) -> list[str]:
    error = response.get("error")
    data = error.get("data") if isinstance(error, dict) else None
    if not isinstance(data, dict):
        return []
    return [v["errorCode"] for v in data.values() if isinstance(v, dict) and v.get("errorCode")]


def codes_in_answer(response: dict) -> list[str]:
    """Codes in a raw JSON answer: a login or keepAlive answer, or a JSON-RPC error (APINGException)."""
    codes = []
    for key in ("loginStatus", "error", "status"):
        value = response.get(key)
        if isinstance(value, str) and value not in ("SUCCESS", "FAIL", ""):
            codes.append(value)
    return codes + _from_aping(response)


def codes_in(answer) -> list[str]:
    """Error codes carried by a betfairlightweight error (its raw answer) or execution report resource."""
    response = getattr(answer, "response", None)
    if isinstance(answer, BaseException):
        return codes_in_answer(response) if isinstance(response, dict) else []
    codes = []
    code = getattr(answer, "error_code", None)
    if code:
        codes.append(code)
    for attr in ("place_instruction_reports", "cancel_instruction_reports", "update_instruction_reports"):
        for report in getattr(answer, attr, None) or ():
            if getattr(report, "error_code", None):
                codes.append(report.error_code)
    return codes


def first_code(answer) -> str | None:
    """The first error code an answer carries, or None."""
    codes = codes_in(answer)
    return codes[0] if codes else None
