"""A demo scenario (``trueup demo --scenario``), read and checked whole before anything starts.

A demo line is one of: {"bybit": <a Bybit scenario step>}, {"aster": <an Aster scenario
step>}, {"hyperliquid": {"step": "trade"
| "close_by_hand" | "liquidate" | "drop_connection", ...}}, {"bot": {"venue": V, <intent>}},
{"trigger": {"venue": V, <a trigger command: docs/capture-format.md, "trigger">}},
{"show": "positions"} or {"wait_ms": N}; each may carry "delay_ms" and a "note". Anything
else is a ScenarioError naming its line.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trueup.domain.errors import shown
from trueup_simulators import scenario_file
from trueup_simulators.aster.scenario import STEPS as ASTER_STEPS
from trueup_simulators.bybit.scenario import read_step
from trueup_simulators.scenario_file import (
    Check,
    ScenarioError,
    Step,
    amount,
    checked,
    flag,
    json_lines,
    milliseconds,
    read_args,
    text,
)

VENUES = ("bybit", "hyperliquid", "aster")

# Each Hyperliquid step: its required, then its optional arguments.
HYPERLIQUID_STEPS: dict[str, tuple[dict[str, Check], dict[str, Check]]] = {
    "trade": ({"coin": text, "is_buy": flag, "sz": amount, "px": amount}, {"cloid": text}),
    "close_by_hand": ({"coin": text}, {"px": amount}),
    "liquidate": ({"coin": text}, {"px": amount}),
    "drop_connection": ({}, {}),
}


@dataclass(frozen=True)
class AsterStep:
    step: Step


@dataclass(frozen=True)
class HyperliquidStep:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class BotIntent:
    """What the trading system says it did, on one venue."""

    venue: str
    intent: dict[str, Any]


@dataclass(frozen=True)
class OperatorTrigger:
    """An operator's trigger command, on one venue's demo account."""

    venue: str
    command: dict[str, Any]


@dataclass(frozen=True)
class ShowPositions:
    pass


@dataclass(frozen=True)
class Wait:
    ms: int


Action = Step | AsterStep | HyperliquidStep | BotIntent | OperatorTrigger | ShowPositions | Wait


@dataclass(frozen=True)
class DemoLine:
    number: int
    action: Action
    delay_ms: int = 0
    note: str = ""


def load_demo(path: Path) -> list[DemoLine]:
    """Every line of the file, checked; a file that cannot be read is a ScenarioError."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ScenarioError(f"cannot read it: {error.strerror}") from None
    return [read_line(number, fields) for number, fields in json_lines(data)]


def read_line(number: int, fields: object) -> DemoLine:
    """One demo line from its JSON object; ``number`` says where it stands, for errors."""
    where = f"line {number}"
    if not isinstance(fields, dict):
        raise ScenarioError(f"{where}: a demo line is a JSON object, not {shown(fields)}")
    actions = [key for key in fields if key not in ("delay_ms", "note")]
    if len(actions) != 1 or actions[0] not in _READERS:
        raise ScenarioError(
            f"{where}: a demo line holds one of {sorted(_READERS)} (and delay_ms, note), "
            f"not {sorted(actions)}"
        )
    (kind,) = actions
    return DemoLine(
        number,
        _READERS[kind](number, fields[kind]),
        delay_ms=checked(where, "delay_ms", fields.get("delay_ms", 0), milliseconds),
        note=checked(where, "note", fields.get("note", ""), text),
    )


def _hyperliquid(number: int, fields: object) -> HyperliquidStep:
    where = f"line {number} (hyperliquid)"
    if not isinstance(fields, dict):
        raise ScenarioError(f"{where}: a step is a JSON object, not {shown(fields)}")
    args = dict(fields)
    name = args.pop("step", None)
    if not isinstance(name, str) or name not in HYPERLIQUID_STEPS:
        raise ScenarioError(
            f"{where}: step {shown(name)} is not one of {sorted(HYPERLIQUID_STEPS)}"
        )
    required, optional = HYPERLIQUID_STEPS[name]
    where = f"line {number} (hyperliquid {name})"
    return HyperliquidStep(name, read_args(where, args, required, optional))


def _aster(number: int, fields: object) -> AsterStep:
    return AsterStep(scenario_file.read_step(number, fields, ASTER_STEPS))


def _on_venue(where: str, fields: object, what: str) -> tuple[str, dict[str, Any]]:
    """A line's object naming its venue: the venue, and the rest."""
    if not isinstance(fields, dict) or fields.get("venue") not in VENUES:
        raise ScenarioError(f"{where}: {what} is a JSON object with venue one of {VENUES}")
    body = dict(fields)
    return body.pop("venue"), body


def _bot(number: int, fields: object) -> BotIntent:
    return BotIntent(*_on_venue(f"line {number} (bot)", fields, "an intent"))


def _trigger(number: int, fields: object) -> OperatorTrigger:
    return OperatorTrigger(*_on_venue(f"line {number} (trigger)", fields, "a command"))


def _show(number: int, fields: object) -> ShowPositions:
    if fields != "positions":
        raise ScenarioError(f'line {number}: show must be "positions", not {shown(fields)}')
    return ShowPositions()


def _wait(number: int, fields: object) -> Wait:
    return Wait(checked(f"line {number}", "wait_ms", fields, milliseconds))


_READERS: dict[str, Callable[[int, object], Action]] = {
    "bybit": read_step,
    "aster": _aster,
    "hyperliquid": _hyperliquid,
    "bot": _bot,
    "trigger": _trigger,
    "show": _show,
    "wait_ms": _wait,
}
