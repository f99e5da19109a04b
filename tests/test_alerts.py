"""Alerts leave the process for real: a Sentry envelope and a webhook POST to local HTTP servers, redacted."""

from __future__ import annotations

import logging
import threading

import pytest

from core.alerts import ORDER_PATH_ERROR, Alert, alerts_from
from core.errors import ConfigError
from core.redact import redactor
from core.webhook import WebhookSink
from tests.httpsink import HttpSink
from tests.live_helpers import wait_for

SECRET = "alert-secret-5e1f"


@pytest.fixture
def masked():
    """A secret the process's redactor knows (as cli.main adds the credentials from the environment)."""
    redactor().add(SECRET)
    return SECRET


def test_sentry_gets_the_real_envelope_with_the_event_and_no_secret(masked):
    with HttpSink() as sentry:
        dsn = f"http://public@127.0.0.1:{sentry.port}/1"
        alerts = alerts_from({"SENTRY_DSN": dsn})
        alerts.send("kill switch HALTED", f"throttle: login {masked} refused", market_id="1.23", strategy="wom")
        try:
            raise RuntimeError(f"placeOrders failed for {masked}")
        except RuntimeError as exc:
            alerts.send(ORDER_PATH_ERROR, repr(exc), error=exc, market_id="1.23", bet_id="987")
        alerts.close(5)
        received = sentry.wait(lambda r: len(r) >= 2, what="two Sentry envelopes")
    assert {r.path for r in received} == {"/api/1/envelope/"}
    assert all("sentry_key=public" in r.headers["X-Sentry-Auth"] for r in received)
    message, error = sentry.events()
    assert message["message"] == "kill switch HALTED: throttle: login *** refused (market_id=1.23, strategy=wom)"
    assert message["level"] == "error" and message["tags"] == {
        "alert": "kill switch HALTED",
        "market_id": "1.23",
        "strategy": "wom",
    }
    exception = error["exception"]["values"][-1]
    assert exception["type"] == "RuntimeError" and exception["value"] == "placeOrders failed for ***"
    assert error["tags"]["bet_id"] == "987" and error["tags"]["alert"] == ORDER_PATH_ERROR
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])  # no local variables
    for r in received:
        assert masked.encode() not in r.body and dsn.encode() not in r.body


def test_webhook_gets_a_slack_compatible_json_post(masked):
    with HttpSink() as hook:
        alerts = alerts_from({"PADDOCK_WEBHOOK_URL": hook.url})
        alerts.send("reconnect storm", f"3 reconnects in 60 s ({masked})", market_id="1.5")
        (posted,) = hook.wait(lambda r: len(r) >= 1, what="the webhook POST")
        alerts.close(5)
    assert posted.path == "/hook" and posted.headers["Content-Type"] == "application/json"
    assert posted.json() == {"text": "reconnect storm: 3 reconnects in 60 s (***) (market_id=1.5)"}


def test_a_failing_webhook_is_logged_and_the_sender_goes_on(caplog):
    with HttpSink(status=500) as hook:
        sink = WebhookSink(hook.url, timeout=5)
        alerts = alerts_from({})
        alerts.sinks.append(sink)
        with caplog.at_level(logging.WARNING, logger="paddock.alerts"):
            alerts.send("kill switch HALTED", "manual: test")
            wait_for(lambda: sink.failed == 1, 10, "the failed post to be counted")
            alerts.send("kill switch HALTED", "manual: again")
            wait_for(lambda: sink.failed == 2, 10, "the second failed post")
        alerts.close(5)
    assert sink.delivered == 0 and len(hook.received) == 2
    assert "alert webhook answered HTTP 500; alert not delivered: kill switch HALTED: manual: test" in caplog.text


def test_a_webhook_that_cannot_be_reached_is_logged(caplog):
    with HttpSink() as closed:
        url = closed.url
    sink = WebhookSink(url, timeout=2)  # the server is gone: the connection is refused
    with caplog.at_level(logging.WARNING, logger="paddock.alerts"):
        sink.deliver(Alert("webhook", "unreachable"))
        wait_for(lambda: sink.failed == 1, 10, "the refused post to be counted")
    sink.close(2)
    assert "alert webhook failed" in caplog.text and "unreachable" in caplog.text


def test_a_hung_webhook_does_not_block_the_sender():
    with HttpSink(hold=True) as hook:  # answers only once released
        alerts = alerts_from({"PADDOCK_WEBHOOK_URL": hook.url})
        sent = threading.Event()

        def trading_thread() -> None:
            for i in range(5):
                alerts.send("kill switch HALTED", f"trip {i}")
            sent.set()

        threading.Thread(target=trading_thread, daemon=True).start()
        hook.wait(lambda r: len(r) >= 1, what="the first POST")  # the post is now held by the server
        assert sent.wait(5), "send() waited on the webhook"
        assert len(hook.received) == 1  # the others wait in the queue, behind the held one
        hook.release.set()
        hook.wait(lambda r: len(r) == 5, what="the queued posts once the server answers")
        alerts.close(5)
    assert [r.json()["text"] for r in hook.received] == [f"kill switch HALTED: trip {i}" for i in range(5)]


def test_webhook_url_from_a_file_named_in_config(tmp_path):
    path = tmp_path / "webhook"
    path.write_text("https://hooks.example.invalid/T000/B000/xyz-7c2d\n")
    alerts = alerts_from({}, url_file=path)
    assert [type(s).__name__ for s in alerts.sinks] == ["WebhookSink"]
    assert redactor()("posting to https://hooks.example.invalid/T000/B000/xyz-7c2d") == "posting to ***"
    alerts.close(1)
    with pytest.raises(ConfigError, match="webhook_url_file .*cannot read it"):
        alerts_from({}, url_file=tmp_path / "missing")
    (tmp_path / "bad").write_text("hooks.example.invalid/xyz-7c2d")
    with pytest.raises(ConfigError, match="must start with http") as info:
        alerts_from({}, url_file=tmp_path / "bad")
    assert "xyz-7c2d" not in str(info.value)


def test_an_alert_repeated_within_the_interval_is_logged_but_posted_once():
    with HttpSink() as hook:
        alerts = alerts_from({"PADDOCK_WEBHOOK_URL": hook.url})
        for _ in range(3):
            alerts.send(ORDER_PATH_ERROR, "ValueError('same')", market_id="1.1")
        alerts.send(ORDER_PATH_ERROR, "ValueError('other')", market_id="1.1")
        hook.wait(lambda r: len(r) == 2, what="two POSTs")
        alerts.close(5)
    assert len(alerts.sent) == 4  # every one is logged
    assert [r.json()["text"] for r in hook.received] == [
        "order path exception: ValueError('same') (market_id=1.1)",
        "order path exception: ValueError('other') [2 repeated alert(s) held back] (market_id=1.1)",
    ]
