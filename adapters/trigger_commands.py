"""Trigger commands as capture lines (channel ``trigger``): what ``trueup trigger`` and the
HTTP API append, so every change of a trigger is an input an audit shows.

    {"at": 1762199000000, "channel": "trigger", "venue": "bybit", "account": "main",
     "data": {"command": "add", "operator": "alice", "symbol": "BTCUSDT",
              "direction": "long", "kind": "price", "level": "70000", "ratio": "0.5",
              "action": "reduce"}}

An add may name its ``trigger_id``; without one the trigger is known by the add's input id.
"""

from typing import Any

from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.domain.errors import MalformedInput
from trueup.domain.events import TriggerCommanded
from trueup.domain.triggers.spec import (
    DistanceUnit,
    TriggerAction,
    TriggerCommand,
    TriggerKind,
    TriggerSpec,
    spec_problem,
)
from trueup.domain.vocabulary import PositionSide

COMMANDS = {c.value: c for c in TriggerCommand}
KINDS = {k.value: k for k in TriggerKind}
ACTIONS = {a.value: a for a in TriggerAction}
UNITS = {u.value: u for u in DistanceUnit}
DIRECTIONS = {"long": PositionSide.LONG, "short": PositionSide.SHORT}
# The commands that put a configuration in force, and so carry one.
CONFIGURING = (TriggerCommand.ADD, TriggerCommand.CHANGE)


def decode(envelope: Envelope, data: Payload) -> TriggerCommanded:
    command = data.choice_of("command", COMMANDS)
    spec = _spec(data) if command in CONFIGURING else None
    if command is TriggerCommand.ADD:
        trigger_id = data.optional_text("trigger_id") or envelope.input_id
    else:
        trigger_id = data.text("trigger_id")
    if not trigger_id:
        raise MalformedInput(f"{data.where}.trigger_id: empty")
    return TriggerCommanded(
        **envelope.header(),
        command=command,
        trigger_id=trigger_id,
        operator=data.text("operator"),
        spec=spec,
    )


def _spec(data: Payload) -> TriggerSpec:
    kind = data.choice_of("kind", KINDS)
    trailing = kind is TriggerKind.TRAILING
    spec = TriggerSpec(
        symbol=data.name("symbol"),
        direction=data.choice_of("direction", DIRECTIONS),
        kind=kind,
        level=None if trailing else data.decimal("level"),
        distance=data.decimal("distance") if trailing else None,
        unit=data.choice_of("unit", UNITS, default=DistanceUnit.PRICE.value),
        ratio=data.decimal("ratio"),
        action=data.choice_of("action", ACTIONS),
        auto_execute=data.boolean("auto_execute"),
        expires_at=data.optional_integer("expires_at"),
    )
    problem = spec_problem(spec)
    if problem is not None:
        raise MalformedInput(f"{data.where}: {problem}")
    return spec


def record(at: int, venue: str, account: str, data: dict[str, Any]) -> dict[str, Any]:
    """The capture record of one trigger command."""
    return {"at": at, "channel": "trigger", "venue": venue, "account": account, "data": data}
