"""Scenario files: what happens on a simulated venue, step by step, with delays.

A scenario is JSON Lines (one step per line; blank lines skipped) or one JSON array of the same
objects. Each step names what to do in ``step``, may wait ``delay_ms`` before doing it, may carry
a ``note`` for people, and takes the arguments of the simulator method it runs. Each venue's
``scenario`` module says which steps there are (a table of ``StepKind``); this module reads,
checks and runs them. Write quantities and prices as strings; JSON numbers are read as exact
decimals too.
"""

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

from trueup.adapters.decimals import to_quantity
from trueup.domain.errors import MalformedInput, shown

S = TypeVar("S")
Sleep = Callable[[float], None]
# Reads an argument's JSON value, or raises ValueError completing "<name> must ...".
Check = Callable[[object], object]

# An hour: a scenario is played while someone watches, and time.sleep refuses far longer.
MAX_DELAY_MS = 3_600_000
# Faults repeated n times are each held in memory until used.
MAX_REPEAT = 10_000


class ScenarioError(ValueError):
    """A scenario that cannot be read, or a step the simulator refused; says which line."""


# --- what each argument may hold ------------------------------------------------------------


def text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("be a string")
    return value


def flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("be true or false")
    return value


def amount(value: object) -> str:
    """A quantity or price: a plain decimal string (or a JSON number), never negative."""
    if isinstance(value, Decimal):  # a JSON number, read exactly: 1E+5 as 100000
        value = format(value, "f")
    try:
        return str(to_quantity(value, "amount"))
    except MalformedInput:
        raise ValueError('be a decimal string of zero or more, such as "0.3"') from None


def milliseconds(value: object) -> int:
    return whole(value, 0, MAX_DELAY_MS, f"be a non-negative integer of at most {MAX_DELAY_MS}")


def repeat(value: object) -> int:
    return whole(value, 0, MAX_REPEAT, f"be a whole number from 0 to {MAX_REPEAT}")


def whole(value: object, low: int, high: int, must: str) -> int:
    """``value`` if it is an integer from ``low`` to ``high``, else ValueError(``must``)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(must)
    return value


# --- steps --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepKind(Generic[S]):
    """The arguments a step takes, each with its check, and the simulator call it makes."""

    required: dict[str, Check]
    optional: dict[str, Check]
    # None for wait, which the runner does itself with its own sleep function.
    run: Callable[[S, dict[str, Any]], object] | None


@dataclass(frozen=True)
class Step:
    """One step of a scenario, as read from line ``line`` of its file."""

    line: int
    name: str
    delay_ms: int = 0
    args: dict[str, Any] = field(default_factory=dict)


def read_step(line: int, fields: object, steps: Mapping[str, StepKind[Any]]) -> Step:
    """One step from its JSON object; ``line`` is where it stands, for errors."""
    where = f"line {line}"
    if not isinstance(fields, dict):
        raise ScenarioError(f"{where}: a step is a JSON object, not {shown(fields)}")
    name = fields.get("step")
    if not isinstance(name, str) or name not in steps:
        raise ScenarioError(f"{where}: step {shown(name)} is not one of {sorted(steps)}")
    delay = checked(where, "delay_ms", fields.get("delay_ms", 0), milliseconds)
    args = {k: v for k, v in fields.items() if k not in ("step", "delay_ms", "note")}
    kind = steps[name]
    return Step(
        line, name, delay, read_args(f"{where} ({name})", args, kind.required, kind.optional)
    )


def read_args(
    where: str, args: dict[str, Any], required: dict[str, Check], optional: dict[str, Check]
) -> dict[str, Any]:
    """Every argument checked: none missing, none unknown, each of its kind."""
    checks = {**required, **optional}
    missing = [a for a in required if a not in args]
    unknown = [a for a in args if a not in checks]
    if missing or unknown:
        raise ScenarioError(f"{where}: missing {missing}, unknown {unknown}")
    return {name: checked(where, name, value, checks[name]) for name, value in args.items()}


def checked(where: str, name: str, value: object, check: Check) -> Any:
    """``check(value)``, its refusal said as a ScenarioError naming ``where`` and ``name``."""
    try:
        return check(value)
    except ValueError as error:
        raise ScenarioError(f"{where}: {name} must {error}, not {shown(value)}") from None


def json_lines(data: bytes) -> Iterator[tuple[int, object]]:
    """Each non-blank line of ``data`` as JSON (numbers as exact decimals), with its number."""
    for number, raw in enumerate(data.splitlines(), start=1):
        if raw.strip():
            yield number, _json(raw, number)


def parse_scenario(text: str | bytes, steps: Mapping[str, StepKind[Any]]) -> list[Step]:
    """Steps from JSON Lines, or from one JSON array of step objects."""
    data = text.encode() if isinstance(text, str) else text
    if data.lstrip().startswith(b"["):
        items = _json(data, 1)
        if not isinstance(items, list):
            raise ScenarioError("line 1: not one JSON array")
        return [read_step(n, fields, steps) for n, fields in enumerate(items, start=1)]
    return [read_step(n, fields, steps) for n, fields in json_lines(data)]


def load_scenario(path: str | Path, steps: Mapping[str, StepKind[Any]]) -> list[Step]:
    """Read a scenario file (.jsonl or .json)."""
    return parse_scenario(Path(path).read_bytes(), steps)


def _json(raw: bytes, first_line: int) -> object:
    """``raw``, which starts at line ``first_line`` of its file, as JSON; errors say the line."""
    try:
        return json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError as error:
        line = first_line + raw.count(b"\n", 0, error.start)
        raise ScenarioError(f"line {line}: not UTF-8 text") from None
    except RecursionError:
        raise ScenarioError(f"line {first_line}: JSON nested too deeply") from None
    except json.JSONDecodeError as error:
        line = first_line + error.lineno - 1
        raise ScenarioError(f"line {line}: not JSON: {error.msg} (column {error.colno})") from None
    except ValueError as error:  # an integer of more digits than int() reads
        raise ScenarioError(f"line {first_line}: not JSON: {error}") from None


def run_scenario(
    simulator: S,
    steps: Iterable[Step],
    kinds: Mapping[str, StepKind[S]],
    sleep: Sleep = time.sleep,
) -> list[object]:
    """Run each step after its delay; returns what each returned (orderIds, execIds, None)."""
    results: list[object] = []
    for step in steps:
        if step.delay_ms:
            sleep(step.delay_ms / 1000)
        results.append(run_step(simulator, step, kinds, sleep))
    return results


def run_step(
    simulator: S, step: Step, kinds: Mapping[str, StepKind[S]], sleep: Sleep = time.sleep
) -> object:
    """Run one step now (its delay is the caller's); returns what the simulator returned."""
    run = kinds[step.name].run
    if run is None:
        sleep(step.args["ms"] / 1000)
        return None
    try:
        return run(simulator, dict(step.args))
    except (ValueError, TypeError, ArithmeticError) as error:
        raise ScenarioError(f"line {step.line} ({step.name}): {error}") from error
