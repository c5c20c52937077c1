"""Scenario files: what happens on a simulated Bybit account, step by step, with delays.

A scenario is JSON Lines (one step per line; blank lines skipped) or one JSON array of the same
objects. Each step names what to do in ``step``, may wait ``delay_ms`` before doing it, may carry
a ``note`` for people, and takes the arguments of the simulator method it runs:

    {"step": "place", "symbol": "BTCUSDT", "side": "Buy", "qty": "0.3", "price": "106250",
     "order_link_id": "p-btc-1-entry", "time_in_force": "PostOnly"}
    {"step": "fill", "delay_ms": 150, "order": "p-btc-1-entry", "qty": "0.1"}

Steps: place, fill, cancel, close_by_hand, liquidate, move_mark, open_position, push_wallet,
drop_connection, refuse_auth, rate_limit, error, page_size, restart, wait (``ms``). Orders are
named by orderLinkId (or orderId). Write quantities and prices as strings; JSON numbers are read
as exact decimals too. samples/scenarios/README.md describes every step's arguments.
"""

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from trueup.adapters.bybit.simulator import BybitSimulator

Sleep = Callable[[float], None]


class ScenarioError(ValueError):
    """A scenario that cannot be read, or a step the simulator refused; says which line."""


@dataclass(frozen=True)
class StepKind:
    """The arguments a step takes and the simulator call it makes."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    # None for wait, which the runner does itself with its own sleep function.
    run: Callable[[BybitSimulator, dict[str, Any]], object] | None


ORDER_ARGS = ("order_link_id", "order_type", "price", "reduce_only", "position_idx", "category")
KEY_ARGS = ("position_idx", "category", "price")
STEPS: dict[str, StepKind] = {
    "place": StepKind(
        ("symbol", "side", "qty"),
        (*ORDER_ARGS, "time_in_force", "reject_reason"),
        lambda sim, a: sim.place_order(**a),
    ),
    "fill": StepKind(("order",), ("qty", "price"), lambda sim, a: sim.fill(**a)),
    "cancel": StepKind(("order",), (), lambda sim, a: sim.cancel(**a)),
    "close_by_hand": StepKind(("symbol",), KEY_ARGS, lambda sim, a: sim.close_by_hand(**a)),
    "liquidate": StepKind(("symbol",), KEY_ARGS, lambda sim, a: sim.liquidate(**a)),
    "move_mark": StepKind(("symbol", "price"), ("category",), lambda sim, a: sim.move_mark(**a)),
    "open_position": StepKind(
        ("symbol", "side", "size", "avg_price"),
        ("position_idx", "category", "mark_price"),
        lambda sim, a: sim.open_position(**a),
    ),
    "push_wallet": StepKind((), (), lambda sim, a: sim.push_wallet()),
    "drop_connection": StepKind((), ("clean",), lambda sim, a: sim.drop_connections(**a)),
    "refuse_auth": StepKind((), ("n",), lambda sim, a: sim.refuse_auth(**a)),
    "rate_limit": StepKind((), ("n", "how"), lambda sim, a: sim.rate_limit(**a)),
    "error": StepKind((), ("n", "ret_code", "ret_msg"), lambda sim, a: sim.error(**a)),
    "page_size": StepKind(("size",), (), lambda sim, a: sim.set_page_size(**a)),
    "restart": StepKind((), (), lambda sim, a: sim.restart()),
    "wait": StepKind(("ms",), (), None),
}


@dataclass(frozen=True)
class Step:
    """One step of a scenario, as read from line ``line`` of its file."""

    line: int
    name: str
    delay_ms: int = 0
    args: dict[str, Any] = field(default_factory=dict)


def _milliseconds(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_step(line: int, fields: object) -> Step:
    """One step from its JSON object; ``line`` is where it stands, for errors."""
    where = f"line {line}"
    if not isinstance(fields, dict):
        raise ScenarioError(f"{where}: a step is a JSON object")
    args = {k: v for k, v in fields.items() if k not in ("step", "delay_ms", "note")}
    name = fields.get("step")
    if not isinstance(name, str) or name not in STEPS:
        raise ScenarioError(f"{where}: step {name!r} is not one of {sorted(STEPS)}")
    kind = STEPS[name]
    delay = fields.get("delay_ms", 0)
    if not _milliseconds(delay):
        raise ScenarioError(f"{where}: delay_ms must be a non-negative integer")
    missing = [a for a in kind.required if a not in args]
    unknown = [a for a in args if a not in kind.required + kind.optional]
    if missing or unknown:
        raise ScenarioError(f"{where} ({name}): missing {missing}, unknown {unknown}")
    if name == "wait" and not _milliseconds(args["ms"]):
        raise ScenarioError(f"{where} (wait): ms must be a non-negative integer")
    # Decimals parsed from JSON numbers go to the simulator as exact strings.
    clean = {k: str(v) if isinstance(v, Decimal) else v for k, v in args.items()}
    return Step(line, name, delay, clean)


def parse_scenario(text: str) -> list[Step]:
    """Steps from JSON Lines, or from one JSON array of step objects."""
    try:
        if text.lstrip().startswith("["):
            items = json.loads(text, parse_float=Decimal)
            return [read_step(n, fields) for n, fields in enumerate(items, start=1)]
        return [
            read_step(n, json.loads(raw, parse_float=Decimal))
            for n, raw in enumerate(text.splitlines(), start=1)
            if raw.strip()
        ]
    except json.JSONDecodeError as error:
        raise ScenarioError(f"not JSON: {error}") from None


def load_scenario(path: str | Path) -> list[Step]:
    """Read a scenario file (.jsonl or .json)."""
    return parse_scenario(Path(path).read_text(encoding="utf-8"))


def run_scenario(
    simulator: BybitSimulator, steps: Iterable[Step], sleep: Sleep = time.sleep
) -> list[object]:
    """Run each step after its delay; returns what each returned (orderIds, execIds, None)."""
    results: list[object] = []
    for step in steps:
        if step.delay_ms:
            sleep(step.delay_ms / 1000)
        results.append(run_step(simulator, step, sleep))
    return results


def run_step(simulator: BybitSimulator, step: Step, sleep: Sleep = time.sleep) -> object:
    """Run one step now (its delay is the caller's); returns what the simulator returned."""
    run = STEPS[step.name].run
    if run is None:
        sleep(step.args["ms"] / 1000)
        return None
    try:
        return run(simulator, dict(step.args))
    except (ValueError, TypeError) as error:
        raise ScenarioError(f"line {step.line} ({step.name}): {error}") from error
