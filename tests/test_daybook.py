"""Today's realised P&L and cooldowns survive a restart (the daily loss limit does not start the day at zero)."""

from __future__ import annotations

import json
import time

from app.assembly import Mode, build
from controls.daybook import day_of
from controls.killswitch import TradingState
from core.config import load_config
from tests.conftest import write_config

CREDENTIALS = {"BETFAIR_USERNAME": "user", "BETFAIR_PASSWORD": "pass", "BETFAIR_APP_KEY": "key1"}


def _bot(tmp_path):
    config = write_config(
        tmp_path, '[[strategies]]\nname = "inplay_favourite"\n', 'data_dir = "data"\n[risk]\ndaily_loss_limit = 50\n'
    )
    return build(Mode.LIVE, load_config(config), environ=CREDENTIALS)


def test_a_restart_inherits_todays_realised_loss_and_cooldowns(tmp_path):
    bot = _bot(tmp_path)
    layer = bot.safety
    assert layer.pnl.today() == 0.0
    layer.pnl.carried["1.100"] = -60.0  # as if this run had settled a market at -60 ...
    layer.daybook.cooldowns[("1.100", 123)] = time.time()  # ... and just placed an order on runner 123
    layer.tick()  # the safety tick keeps the day book
    bot.lock.release()
    saved = json.loads((tmp_path / "data" / "live" / "daybook.json").read_text())
    assert saved["day"] == day_of(time.time()) and saved["settled"] == {"1.100": -60.0}
    restarted = _bot(tmp_path).safety
    assert restarted.pnl.today() == -60.0  # below the daily loss limit at once: no new order today
    assert ("1.100", 123) in restarted.daybook.cooldowns
    assert restarted.kill_switch.state is TradingState.ACTIVE


def test_yesterdays_book_is_not_inherited_and_a_damaged_one_halts(tmp_path):
    path = tmp_path / "data" / "live" / "daybook.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"day": "2001-01-01", "settled": {"1.1": -500.0}, "cooldowns": {}}))
    bot = _bot(tmp_path)
    assert bot.safety.pnl.today() == 0.0 and bot.safety.kill_switch.state is TradingState.ACTIVE
    bot.lock.release()
    path.write_text(json.dumps({"day": day_of(time.time()), "settled": {"1.1": "lots"}}))
    switch = _bot(tmp_path).safety.kill_switch
    assert switch.state is TradingState.HALTED and "cannot be read" in switch.reason
