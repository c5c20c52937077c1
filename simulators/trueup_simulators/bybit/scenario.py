"""Scenario files: what happens on a simulated Bybit account, step by step, with delays.

A scenario is JSON Lines (one step per line; blank lines skipped) or one JSON array of the same
objects. Each step names what to do in ``step``, may wait ``delay_ms`` before doing it, may carry
a ``note`` for people, and takes the arguments of the simulator method it runs:

    {"step": "place", "symbol": "BTCUSDT", "side": "Buy", "qty": "0.3", "price": "106250",
     "order_link_id": "p-btc-1-entry", "time_in_force": "PostOnly"}
    {"step": "fill", "delay_ms": 150, "order": "p-btc-1-entry", "qty": "0.1"}

Steps: place, fill, cancel, close_by_hand, liquidate, auto_deleverage, trading_stop, move_mark,
ticker (the public ticker's prices), drop_public, open_position, push_wallet, drop_connection,
refuse_auth, rate_limit, error, page_size, restart,
wait (``ms``). Orders are
named by orderLinkId (or orderId). Write quantities and prices as strings; JSON numbers are read
as exact decimals too. samples/scenarios/README.md describes every step's arguments.
"""

import time
from collections.abc import Iterable
from pathlib import Path

from trueup_simulators import scenario_file
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.scenario_file import (
    MAX_REPEAT,
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


def position_index(value: object) -> int:
    return whole(value, 0, 2, "be 0 (one-way), 1 or 2 (hedge mode)")


def ret_code(value: object) -> int:
    return whole(value, 0, 2**31 - 1, "be a non-negative 32-bit integer")


def page_size(value: object) -> int | None:
    """A cap on every page, or null for none."""
    must = f"be null or a whole number from 1 to {MAX_REPEAT}"
    return None if value is None else whole(value, 1, MAX_REPEAT, must)


# --- the steps --------------------------------------------------------------------------------


ORDER_ARGS: dict[str, Check] = {
    "order_link_id": text,
    "order_type": text,
    "price": amount,
    "reduce_only": flag,
    "position_idx": position_index,
    "category": text,
}
KEY_ARGS: dict[str, Check] = {"position_idx": position_index, "category": text, "price": amount}
STEPS: dict[str, StepKind[BybitSimulator]] = {
    "place": StepKind(
        {"symbol": text, "side": text, "qty": amount},
        {**ORDER_ARGS, "time_in_force": text, "reject_reason": text},
        lambda sim, a: sim.place_order(**a),
    ),
    "fill": StepKind(
        {"order": text}, {"qty": amount, "price": amount}, lambda sim, a: sim.fill(**a)
    ),
    "cancel": StepKind({"order": text}, {}, lambda sim, a: sim.cancel(**a)),
    "close_by_hand": StepKind({"symbol": text}, KEY_ARGS, lambda sim, a: sim.close_by_hand(**a)),
    "liquidate": StepKind({"symbol": text}, KEY_ARGS, lambda sim, a: sim.liquidate(**a)),
    "auto_deleverage": StepKind(
        {"symbol": text}, KEY_ARGS, lambda sim, a: sim.auto_deleverage(**a)
    ),
    "trading_stop": StepKind(
        {"symbol": text},
        {
            "take_profit": amount,
            "stop_loss": amount,
            "position_idx": position_index,
            "category": text,
        },
        lambda sim, a: sim.set_trading_stop(**a),
    ),
    "move_mark": StepKind(
        {"symbol": text, "price": amount}, {"category": text}, lambda sim, a: sim.move_mark(**a)
    ),
    "open_position": StepKind(
        {"symbol": text, "side": text, "size": amount, "avg_price": amount},
        {"position_idx": position_index, "category": text, "mark_price": amount},
        lambda sim, a: sim.open_position(**a),
    ),
    "ticker": StepKind(
        {"symbol": text},
        {"mark_price": amount, "last_price": amount, "index_price": amount},
        lambda sim, a: sim.tickers.set(**a),
    ),
    "drop_public": StepKind({}, {}, lambda sim, a: sim.tickers.drop_connections()),
    "push_wallet": StepKind({}, {}, lambda sim, a: sim.push_wallet()),
    "drop_connection": StepKind({}, {"clean": flag}, lambda sim, a: sim.drop_connections(**a)),
    "refuse_auth": StepKind({}, {"n": repeat}, lambda sim, a: sim.refuse_auth(**a)),
    "rate_limit": StepKind({}, {"n": repeat, "how": text}, lambda sim, a: sim.rate_limit(**a)),
    "error": StepKind(
        {}, {"n": repeat, "ret_code": ret_code, "ret_msg": text}, lambda sim, a: sim.error(**a)
    ),
    "page_size": StepKind({"size": page_size}, {}, lambda sim, a: sim.set_page_size(**a)),
    "restart": StepKind({}, {}, lambda sim, a: sim.restart()),
    "wait": StepKind({"ms": milliseconds}, {}, None),
}


def read_step(line: int, fields: object) -> Step:
    """One Bybit step from its JSON object; ``line`` is where it stands, for errors."""
    return scenario_file.read_step(line, fields, STEPS)


def parse_scenario(text: str | bytes) -> list[Step]:
    """Bybit steps from JSON Lines, or from one JSON array of step objects."""
    return scenario_file.parse_scenario(text, STEPS)


def load_scenario(path: str | Path) -> list[Step]:
    """Read a Bybit scenario file (.jsonl or .json)."""
    return scenario_file.load_scenario(path, STEPS)


def run_scenario(
    simulator: BybitSimulator, steps: Iterable[Step], sleep: Sleep = time.sleep
) -> list[object]:
    """Run each step after its delay; returns what each returned (orderIds, execIds, None)."""
    return scenario_file.run_scenario(simulator, steps, STEPS, sleep)


def run_step(simulator: BybitSimulator, step: Step, sleep: Sleep = time.sleep) -> object:
    """Run one step now (its delay is the caller's); returns what the simulator returned."""
    return scenario_file.run_step(simulator, step, STEPS, sleep)
