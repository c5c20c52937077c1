"""What the HTTP API's endpoints take (runners/http_api.py): their queries and bodies, each
parameter checked as the CLI checks its option, and an unknown one refused by name."""

import argparse
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from trueup.adapters.store.journal import PAGE
from trueup.domain.bounds import EARLIEST_MS, LATEST_MS, MAX_NAME_LENGTH
from trueup.domain.emitted import EMITTED_TYPES
from trueup.domain.events import INPUT_EVENT_TYPES
from trueup.runners.arguments import epoch_ms

EVENTS_PAGE = 500
EVENT_TYPES = sorted([t.type for t in INPUT_EVENT_TYPES] + [t.type for t in EMITTED_TYPES])


def _instant(value: object) -> object:
    """ISO 8601 with its zone, or epoch ms, read as the CLI reads --at and --as-of."""
    if value is None or isinstance(value, int):
        return value
    try:
        return epoch_ms(str(value))
    except argparse.ArgumentTypeError as error:
        raise ValueError(str(error)) from None


_LOCAL_DATES = (
    "^(2000-01-(0[2-9]|[12][0-9]|3[01])|2000-(0[2-9]|1[0-2])|200[1-9]|20[1-9][0-9]"
    "|21[0-8][0-9]|219[0-8]|2199-(0[1-9]|1[01])|2199-12-([012][0-9]|30))"
)
Instant = Annotated[
    int,
    BeforeValidator(_instant),
    Field(ge=EARLIEST_MS, le=LATEST_MS),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": EARLIEST_MS, "maximum": LATEST_MS},
                # The instants trueup reads (trueup.domain.bounds), 2000 to 2200 in UTC; as
                # local dates, without the first and last day, which a zone may carry out.
                {"type": "string", "format": "date-time", "pattern": _LOCAL_DATES},
            ],
            "description": "epoch milliseconds, or ISO 8601 with its time zone, from 2000 to 2200",
        }
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise ValueError(f"{value!r} is not a type of event: one of {', '.join(EVENT_TYPES)}")
    return value


EventType = Annotated[
    str,
    BeforeValidator(_event_type),
    WithJsonSchema({"type": "string", "enum": EVENT_TYPES}),
]


# What a kept answer is kept by: the query, all of it that the journal's answer depends on
# (can-open's side and timeframe only weigh in the judging, done on each request).
CanOpenQuestion = tuple[str, str, str, int | None]
PositionsQuestion = tuple[str | None, str | None, str | None, str]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PositionsQuery(Strict):
    venue: Name | None = None
    account: Name | None = None
    symbol: Name | None = None
    format: Literal["trueup", "ccxt"] = Field(
        "trueup",
        description="trueup: `trueup positions --json` rows; ccxt: ccxt's unified Position "
        "structure, for what the exchange holds",
    )


class SummaryQuery(Strict):
    venue: Name | None = None
    account: Name | None = None
    symbol: Name | None = None


class HistoryQuery(Strict):
    venue: Name | None = None
    account: Name | None = None
    symbol: Name | None = None
    since: Instant | None = None


class TriggersQuery(Strict):
    venue: Name | None = None
    account: Name | None = None


class CanOpenQuery(Strict):
    venue: Name
    account: Name
    symbol: Name
    # long or short (Buy or Sell), in any case, as the CLI and NATS take it.
    side: Annotated[str, Field(pattern=r"^(?i:long|short|buy|sell)$")] | None = None
    timeframe: Name | None = None
    at: Instant | None = None


class AuditQuery(Strict):
    venue: Name
    account: Name
    symbol: Name
    position_idx: Annotated[int, Field(ge=0, le=2)] | None = None
    as_of: Instant | None = None


class EmittedQuery(Strict):
    venue: Name
    account: Name
    symbol: Name
    # None: the symbol's one leg; 422 naming them where it has two (hedge mode).
    position_idx: Annotated[int, Field(ge=0, le=2)] | None = None
    as_of: Instant | None = None


class EventsQuery(Strict):
    after: int = Field(0, ge=0, le=2**63 - 1, description="the cursor: a journal position")
    type: EventType | None = None
    venue: Name | None = None
    account: Name | None = None
    emitted: bool = Field(False, description="only what the detectors emitted")
    limit: int = Field(EVENTS_PAGE, ge=1, le=PAGE)


class InputsQuery(Strict):
    """No parameter: the lines are the body. One given is refused, as every endpoint refuses one."""


class NotifyTestQuery(Strict):
    target: Name | None = Field(None, description="only this target (default: every one)")


class AcknowledgeQuery(Strict):
    notifier: Name = Field("default", description="the notifier's name (notify --name)")
    operator: Name = Field(description="who acknowledges")
    reason: str = Field("", max_length=500, description="why, for whoever looks next")


DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,12})?$")]
# In a JSON body an instant is epoch milliseconds, a JSON number (1.0e12 is one too).
EpochMs = Annotated[int, Field(ge=EARLIEST_MS, le=LATEST_MS)]


class TriggerCommandBody(Strict):
    """One trigger command, as `trueup trigger` gives it (docs/capture-format.md, "trigger"):
    add and change carry the configuration (a change what it changes: the rest is kept;
    `"expires_at": null` takes the expiry off); the others name the trigger."""

    venue: Name
    account: Name
    command: Literal["add", "change", "enable", "disable", "remove", "confirm"]
    operator: Name
    trigger_id: Name | None = None
    symbol: Name | None = None
    direction: Literal["long", "short"] | None = None
    kind: Literal["profit", "price", "stop_loss", "trailing"] | None = None
    level: DecimalText | None = None
    distance: DecimalText | None = None
    unit: Literal["price", "percent"] | None = None
    ratio: DecimalText | None = None
    action: Literal["lock", "reduce"] | None = None
    auto_execute: bool | None = None
    expires_at: EpochMs | None = None
    at: EpochMs | None = Field(default=None, description="when it is commanded (default: now)")
