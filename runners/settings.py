"""Rule thresholds from a TOML file (``--rules FILE``): any RuleConfig field, by name.

Each value is held to its sane domain: durations are whole milliseconds up to a century,
the drift threshold a finite percentage from 0 to MAX_THRESHOLD_PCT; TOML's nan and inf
are refused like any other wrong value, naming the field.
"""

import dataclasses
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from trueup.domain.errors import shown
from trueup.domain.rules.config import RuleConfig
from trueup.runners.usage import UsageError

# A century: a longer grace or cooldown is a typo, and any instant plus it stays printable.
MAX_DURATION_MS = 100 * 365 * 24 * 3600 * 1000
# Drift is measured against the local claim, so above 100 % is meaningful; a hundredfold
# is already "never".
MAX_THRESHOLD_PCT = Decimal(10_000)


class _BadValue(ValueError):
    """A setting's value outside its domain; the message completes "<name> must ..."."""


def load_rules(path: Path | None) -> RuleConfig:
    """The defaults, overridden by the file's top-level keys; unknown keys are an error."""
    if path is None:
        return RuleConfig()
    values = _read_toml(path)
    defaults = RuleConfig()
    fields = {f.name for f in dataclasses.fields(RuleConfig)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise UsageError(f"rules file {path}: unknown settings {unknown}; known: {sorted(fields)}")
    settings: dict[str, Any] = {}
    for name, value in values.items():
        try:
            settings[name] = _typed(value, getattr(defaults, name))
        except _BadValue as error:
            raise UsageError(
                f"rules file {path}: {name} must {error}, not {shown(value)}"
            ) from None
    return dataclasses.replace(defaults, **settings)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise UsageError(f"cannot read rules file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"rules file {path}: not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"rules file {path}: {error}") from None


def _typed(value: object, default: object) -> object:
    """``value`` as the type of ``default``, within its domain."""
    if isinstance(default, bool):
        return _flag(value)
    if isinstance(default, Decimal):
        return _percentage(value)
    return _duration_ms(value)


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _BadValue("be true or false")
    return value


def _percentage(value: object) -> Decimal:
    # A string is read too, so a threshold can be written exactly ("2.5").
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _BadValue("be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _BadValue("be a number") from None
    if not (number.is_finite() and 0 <= number <= MAX_THRESHOLD_PCT):
        raise _BadValue(f"be a percentage from 0 to {MAX_THRESHOLD_PCT}")
    return number


def _duration_ms(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _BadValue("be a whole number of milliseconds")
    if not 0 <= value <= MAX_DURATION_MS:
        raise _BadValue(f"be from 0 to {MAX_DURATION_MS} milliseconds (a century)")
    return value
