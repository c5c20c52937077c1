"""Trigger commands as capture lines (channel ``trigger``): what ``trueup trigger`` and the
HTTP API append, so every change of a trigger is an input an audit shows.

    {"at": 1762199000000, "channel": "trigger", "venue": "bybit", "account": "main",
     "data": {"command": "add", "operator": "alice", "symbol": "BTCUSDT",
              "direction": "long", "kind": "price", "level": "70000", "ratio": "0.5",
              "action": "reduce"}}

An add may name its ``trigger_id``; without one the trigger is known by the add's input id.
"""

from typing import Any

from trueup.adapters.decimals import plain
from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.domain.errors import MalformedInput
from trueup.domain.events import TriggerCommanded
from trueup.domain.instants import iso
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
# The commands that may withdraw a firing's requested order before the executor sends it.
WITHDRAWING = (TriggerCommand.DISABLE, TriggerCommand.REMOVE)
# What only a trailing trigger reads: its distance from the water mark, and its unit.
TRAILING_ONLY = ("distance", "unit")


def decode(envelope: Envelope, data: Payload) -> TriggerCommanded:
    command = data.choice_of("command", COMMANDS)
    spec = _spec(envelope, data) if command in CONFIGURING else None
    if command is TriggerCommand.ADD:
        trigger_id = data.optional_text("trigger_id") or envelope.input_id
    else:
        trigger_id = data.text("trigger_id")
    if not trigger_id:
        raise MalformedInput(f"{data.where}.trigger_id: empty")
    withdraws = ""
    if command in WITHDRAWING:
        withdraws = data.optional_name("withdraws") or ""
    elif _given(data, "withdraws"):
        raise MalformedInput(f"{data.where}.withdraws: only a disable or remove withdraws")
    return TriggerCommanded(
        **envelope.header(),
        command=command,
        trigger_id=trigger_id,
        operator=data.text("operator"),
        spec=spec,
        withdraws=withdraws,
    )


def _spec(envelope: Envelope, data: Payload) -> TriggerSpec:
    kind = data.choice_of("kind", KINDS)
    trailing = kind is TriggerKind.TRAILING
    # A level and a distance are alternatives: the one the kind does not read would be
    # dropped unseen, and the trigger fire where its operator did not expect.
    unread = [n for n in (TRAILING_ONLY if not trailing else ("level",)) if _given(data, n)]
    if unread:
        takes = "a distance (and its unit)" if trailing else "a level"
        raise MalformedInput(
            f"{data.where}: a {kind.value} trigger takes {takes}, not {' or '.join(unread)}"
        )
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
    if spec.expires_at is not None and spec.expires_at <= envelope.at:
        # It would be expired as it is put in force: never armed, never fired.
        raise MalformedInput(
            f"{data.where}.expires_at: {iso(spec.expires_at)} is not after the command "
            f"({iso(envelope.at)}): it would expire before it could fire"
        )
    return spec


def completed(data: dict[str, Any], spec: TriggerSpec, at: int) -> dict[str, Any]:
    """A change's data (commanded at ``at``) with what it does not name taken from ``spec``,
    the configuration in force: a change of the stop alone keeps the ratio, the action and
    auto-execute. A change of kind to or from trailing keeps neither level nor distance: the
    new kind reads the other. An expiry passed is not kept: the trigger is expired, which
    the triggers say of the command, not the line of a field the operator never gave."""
    in_force: dict[str, Any] = {
        "symbol": spec.symbol,
        "direction": spec.direction.value.lower(),
        "kind": spec.kind.value,
        "ratio": plain(spec.ratio),
        "action": spec.action.value,
        "auto_execute": spec.auto_execute,
    }
    if spec.expires_at is not None and spec.expires_at > at:
        in_force["expires_at"] = spec.expires_at
    was_trailing = spec.kind is TriggerKind.TRAILING
    if (data.get("kind", spec.kind.value) == TriggerKind.TRAILING.value) == was_trailing:
        if was_trailing and spec.distance is not None:
            in_force |= {"distance": plain(spec.distance), "unit": spec.unit.value}
        elif spec.level is not None:
            in_force["level"] = plain(spec.level)
    # Named as null (an expiry taken off), a field is named: it is not filled in.
    return in_force | data


def _given(data: Payload, name: str) -> bool:
    return data.fields.get(name) not in (None, "")


def record(at: int, venue: str, account: str, data: dict[str, Any]) -> dict[str, Any]:
    """The capture record of one trigger command."""
    return {"at": at, "channel": "trigger", "venue": venue, "account": account, "data": data}
