"""The rules in force, as capture lines (channel ``rules``): a change of rules is an input
like any other, so every reader and every replay uses the rules in force at each instant.

    {"at": 1762199000000, "channel": "rules", "source": "rules.toml", "data": {...}}

``data`` holds RuleConfig settings by name (the drift threshold as a decimal string);
those it leaves out take their defaults.
"""

from typing import Any

from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.domain.events import RulesSet
from trueup.domain.rules.config import RuleConfig, rule_config, rule_values


def record(at: int, rules: RuleConfig, source: str) -> dict[str, Any]:
    """The capture record of the rules in force from ``at``."""
    return {"at": at, "channel": "rules", "source": source, "data": rule_values(rules)}


def decode(envelope: Envelope, line: Payload) -> RulesSet:
    data = line.child("data")
    return RulesSet(
        **envelope.header(),
        rules=rule_config(data.fields),
        source=line.optional_text("source", "unnamed"),
    )
