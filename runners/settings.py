"""Rule thresholds from a TOML file (``--rules FILE``): any RuleConfig field, by name."""

import dataclasses
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from trueup.domain.rules.config import RuleConfig
from trueup.runners.usage import UsageError


def load_rules(path: Path | None) -> RuleConfig:
    """The defaults, overridden by the file's top-level keys; unknown keys are an error."""
    if path is None:
        return RuleConfig()
    try:
        values = tomllib.loads(path.read_text())
    except OSError as error:
        raise UsageError(f"cannot read rules file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"rules file {path}: {error}") from None
    fields = {f.name: f for f in dataclasses.fields(RuleConfig)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise UsageError(f"rules file {path}: unknown settings {unknown}; known: {sorted(fields)}")
    settings: dict[str, Any] = {}
    for name, value in values.items():
        default = getattr(RuleConfig(), name)
        settings[name] = _typed(path, name, value, default)
    return dataclasses.replace(RuleConfig(), **settings)


def _typed(path: Path, name: str, value: object, default: object) -> object:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise UsageError(f"rules file {path}: {name} must be true or false")
        return value
    if isinstance(default, Decimal):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise UsageError(f"rules file {path}: {name} must be a number") from None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"rules file {path}: {name} must be a whole number of milliseconds")
    return value
