"""Rule thresholds from a TOML file (``--rules FILE``): any RuleConfig field, by name.

Each value is held to its sane domain (trueup.domain.rules.config): TOML's nan and inf are
refused like any other wrong value, naming the field.
"""

import tomllib
from pathlib import Path
from typing import Any

from trueup.domain.errors import MalformedInput
from trueup.domain.rules.config import RuleConfig, rule_config
from trueup.runners.usage import UsageError


def load_rules(path: Path | None) -> RuleConfig:
    """The defaults, overridden by the file's top-level keys; unknown keys are an error."""
    if path is None:
        return RuleConfig()
    try:
        return rule_config(read_toml(path))
    except MalformedInput as error:
        raise UsageError(f"rules file {path}: {error}") from None


def read_toml(path: Path, what: str = "rules file") -> dict[str, Any]:
    """The TOML document in ``path``; UsageError naming ``what`` it is, and what is wrong."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {what} {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path}: not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{what} {path}: {error}") from None
