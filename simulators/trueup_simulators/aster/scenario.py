"""Scenario files for the Aster simulator: what happens on the account, step by step.

The format is ``scenario_file``'s (JSON Lines or one JSON array; ``delay_ms`` and ``note`` on
any step), with these steps, each taking its simulator method's arguments:

    {"step": "open_position", "symbol": "BTCUSDT", "amount": "0.2", "entry_price": "99000"}
    {"step": "move_mark", "delay_ms": 500, "symbol": "BTCUSDT", "price": "98000"}
    {"step": "pay_funding", "symbol": "BTCUSDT", "rate": "0.0001"}
    {"step": "liquidate", "symbol": "BTCUSDT"}

Steps: place, fill, cancel, open_position, close_by_hand, liquidate, auto_deleverage,
pay_funding, margin_call, move_mark, hedge_mode, drop_connection, refuse_auth, rate_limit
(``status`` 429 or 418), error, expire_listen_key, restart, wait (``ms``). Orders are named by
clientOrderId. Amounts are decimal strings; ``open_position``'s amount may be negative (short).
"""

import time
from collections.abc import Iterable
from pathlib import Path

from trueup_simulators import scenario_file
from trueup_simulators.aster.simulator import AsterSimulator
from trueup_simulators.scenario_file import (
    Check,
    ScenarioError,
    Sleep,
    Step,
    StepKind,
    amount,
    flag,
    milliseconds,
    repeat,
    text,
    whole,
)

__all__ = ["STEPS", "ScenarioError", "Step", "load_scenario", "parse_scenario", "run_scenario"]


def signed_amount(value: object) -> str:
    """A position amount: a decimal string, negative for a short."""
    if isinstance(value, str) and value.startswith("-"):
        return "-" + amount(value[1:])
    return amount(value)


def status(value: object) -> int:
    return whole(value, 100, 599, "be an HTTP status from 100 to 599")


def error_code(value: object) -> int:
    return whole(value, -99_999, 0, "be an Aster error code (a negative integer)")


CLOSE_ARGS: dict[str, Check] = {"position_side": text, "price": amount}
STEPS: dict[str, StepKind[AsterSimulator]] = {
    "place": StepKind(
        {"symbol": text, "side": text, "qty": amount},
        {
            "price": amount,
            "order_type": text,
            "time_in_force": text,
            "position_side": text,
            "reduce_only": flag,
            "client_order_id": text,
        },
        lambda sim, a: sim.place_order(**a),
    ),
    "fill": StepKind(
        {"order": text}, {"qty": amount, "price": amount}, lambda sim, a: sim.fill(**a)
    ),
    "cancel": StepKind({"order": text}, {}, lambda sim, a: sim.cancel(**a)),
    "open_position": StepKind(
        {"symbol": text, "amount": signed_amount, "entry_price": amount},
        {"position_side": text},
        lambda sim, a: sim.open_position(**a),
    ),
    "close_by_hand": StepKind({"symbol": text}, CLOSE_ARGS, lambda s, a: s.close_by_hand(**a)),
    "liquidate": StepKind({"symbol": text}, CLOSE_ARGS, lambda s, a: s.liquidate(**a)),
    "auto_deleverage": StepKind(
        {"symbol": text}, CLOSE_ARGS, lambda sim, a: sim.auto_deleverage(**a)
    ),
    "pay_funding": StepKind(
        {"symbol": text, "rate": signed_amount}, {}, lambda sim, a: sim.pay_funding(**a)
    ),
    "margin_call": StepKind({"symbol": text}, {}, lambda sim, a: sim.margin_call(**a)),
    "move_mark": StepKind({"symbol": text, "price": amount}, {}, lambda sim, a: sim.move_mark(**a)),
    "hedge_mode": StepKind({"on": flag}, {}, lambda sim, a: sim.set_hedge_mode(**a)),
    "drop_connection": StepKind({}, {"clean": flag}, lambda sim, a: sim.drop_connections(**a)),
    "refuse_auth": StepKind({}, {"n": repeat}, lambda sim, a: sim.refuse_auth(**a)),
    "rate_limit": StepKind({}, {"n": repeat, "status": status}, lambda sim, a: sim.rate_limit(**a)),
    "error": StepKind(
        {},
        {"n": repeat, "code": error_code, "msg": text, "status": status},
        lambda sim, a: sim.error(**a),
    ),
    "expire_listen_key": StepKind({}, {}, lambda sim, a: sim.expire_listen_key()),
    "restart": StepKind({}, {}, lambda sim, a: sim.restart()),
    "wait": StepKind({"ms": milliseconds}, {}, None),
}


def parse_scenario(text: str | bytes) -> list[Step]:
    """Aster steps from JSON Lines, or from one JSON array of step objects."""
    return scenario_file.parse_scenario(text, STEPS)


def load_scenario(path: str | Path) -> list[Step]:
    """Read an Aster scenario file (.jsonl or .json)."""
    return scenario_file.load_scenario(path, STEPS)


def run_scenario(
    simulator: AsterSimulator, steps: Iterable[Step], sleep: Sleep = time.sleep
) -> list[object]:
    """Run each step after its delay; returns what each returned (orderIds, trade ids,
    funding amounts, None)."""
    return scenario_file.run_scenario(simulator, steps, STEPS, sleep)
