"""What the HTTP API's endpoints answer, described for its OpenAPI document; the bodies
themselves are rendered by orjson, as the CLI writes --json."""

from dataclasses import dataclass
from typing import Any, Literal

import orjson
from fastapi import Response
from pydantic import BaseModel, Field

from trueup.application.answers import IngestReport


class CanOpenDocument(BaseModel):
    venue: str
    account: str
    symbol: str
    allowed: bool
    reasons: list[str]
    notes: list[str]


class PositionsDocument(BaseModel):
    positions: list[dict[str, Any]] = Field(
        description="one row per key either side has held, as `trueup positions --json`"
    )
    cursor: int = Field(
        description="the journal's end when asked: the events after it (GET /v1/events?after=) "
        "are what may change these rows"
    )


class SummaryDocument(BaseModel):
    positions: int
    notional: str
    unrealised_pnl: str
    realised_pnl: str
    fees: str
    funding: str
    net_pnl: str
    unrealised_from_venue: int
    unrealised_unknown: int
    equity: str | None = Field(
        description="the accounts' equity in USD at the rules' quote_equivalents (those in a "
        "coin with no USD value left out: see apart); null where no account has reported a "
        "wallet in a coin of USD value"
    )
    accounts: list[dict[str, Any]] = Field(
        description="per account: its equity in USD, and its wallet (equity, balances and "
        "margin) in the coin the venue states them in, wallet.equity_coin"
    )
    by_venue: list[dict[str, Any]] = Field(description="shares of notional, largest first")
    by_symbol: list[dict[str, Any]] = Field(description="shares of notional, largest first")
    by_asset: list[dict[str, Any]] = Field(
        description="shares of notional by base asset across venues (BTCUSDT and BTC: BTC)"
    )
    risk: dict[str, Any] | None = Field(description="the portfolio risk figures")
    apart: list[dict[str, Any]] = Field(
        description="per coin the rules give no USD value (quote_equivalents): its accounts' "
        "equity, its positions, notional and PnL in that coin, left out of every total and share"
    )


class HistoryDocument(BaseModel):
    closed: list[dict[str, Any]] = Field(
        description="closed lifecycles, oldest close first, as `trueup history --json`"
    )


class EmittedDocument(BaseModel):
    events: list[dict[str, Any]] = Field(
        description="as `trueup events --json`, with `at_iso` beside `at` "
        "(schemas/http-event.schema.json)"
    )


class EventsDocument(BaseModel):
    events: list[dict[str, Any]] = Field(
        description="as `trueup events --json`, with `at_iso` beside `at` "
        "(schemas/http-event.schema.json)"
    )
    next_after: int = Field(description="the cursor to ask from next")


class InputLine(BaseModel):
    input_id: str
    type: str
    accepted: bool
    reason: str | None


class InputsDocument(BaseModel):
    accepted: int
    rejected: int
    duplicates: int = Field(description="lines the journal already held: not stored twice")
    blank: int
    emitted: dict[str, int] = Field(
        description="what the detectors emitted for these lines, by type, whichever serving "
        "process detected it"
    )
    detected: bool = Field(
        description="false: their detection was not over when answered (another process "
        "runs it: serve --no-projection, or it lagged past the limit); what it emits comes "
        "down the event stream"
    )
    inputs: list[InputLine]


@dataclass(frozen=True)
class Ingested:
    """A POST's lines ingested, and the journal's end before and after (others may have
    appended in between too)."""

    report: IngestReport
    before: int
    after: int
    # The partitions of its inputs that another process runs: it detects those.
    elsewhere: set[int]


class NotifyTestResult(BaseModel):
    target: str
    kind: Literal["webhook", "ntfy"]
    url: str = Field(description="scheme and host only: the rest may be a secret")
    delivered: bool
    reason: str = Field(description="why not, when not")
    status: int | None = Field(description="the target's HTTP status, when it answered")
    elapsed_ms: int


class AcknowledgedDocument(BaseModel):
    notifier: str
    at: int = Field(description="epoch ms; dead letters recorded at or before it are seen")
    operator: str
    reason: str
    newly_acknowledged: int = Field(description="dead letters not acknowledged before")


class NotifyTestDocument(BaseModel):
    delivered: bool = Field(description="whether every target got its test notification")
    results: list[NotifyTestResult]


class TriggerCommandDocument(BaseModel):
    trigger_id: str
    input_id: str = Field(
        description="the input that recorded the command; empty when it was not recorded "
        "(an account trueup has never seen, a symbol its venue cannot have)"
    )
    accepted: bool
    refused: list[str] = Field(
        description="why it was refused: it is recorded all the same, unless it could never "
        "fire (input_id empty)"
    )
    emitted: list[str] = Field(description="the types of what it made trueup emit")
    failed: list[str] = Field(
        description="carried out, but what it asked for failed, and why: a confirm whose "
        "order is not sent (TRIGGER_FAILED)"
    )


class TriggersDocument(BaseModel):
    triggers: list[dict[str, Any]] = Field(
        description="each trigger's configuration and state, as `trueup trigger list --json`"
    )


class ScopeHealth(BaseModel):
    covers: str = Field(
        description="what the snapshot was asked for, in words: 'linear USDT-settled "
        "contracts', 'the perp contracts such a list returns', 'ETHUSDT alone (perp)'"
    )
    complete_snapshot_at: int
    complete_snapshot_iso: str
    age_ms: int
    fresh: bool = Field(
        description="whether it vouches for the symbols it covers now, as can-open judges them"
    )


class AccountHealth(BaseModel):
    venue: str
    account: str
    last_trigger_fired_at: int | None = Field(description="when a trigger last fired (input time)")
    since_last_trigger_ms: int | None
    complete_snapshot_at: int | None
    complete_snapshot_iso: str | None
    age_ms: int | None
    limit_ms: int
    fresh: bool
    reasons: list[str]
    last_input_at: int = Field(description="when the account's latest input came (input time)")
    snapshots: list[ScopeHealth] = Field(
        description="each scope's last complete snapshot of the exchange's positions: "
        "can-open vouches for a symbol only by those that cover it (the account's own "
        "figures are its freshest scope's)"
    )
    followed: bool = Field(
        description="whether its reasons count: named by serve --follow, or an input within "
        "--quiet-after-ms"
    )


class ProjectionHealth(BaseModel):
    runs_here: bool = Field(
        description="whether this process runs any partition now: false under --no-projection, "
        "or while others hold the leases (a sibling under --workers, a trueup worker)"
    )
    partitions_held: list[int] = Field(description="the partitions this process runs")
    siblings: dict[str, list[int]] = Field(
        description="with --workers, the other serving processes (by process id) and the "
        "partitions each says it runs; empty otherwise"
    )
    inputs_behind: int = Field(description="inputs stored, not yet processed (up to 2000)")
    lag_ms: int = Field(description="how long the oldest of them has waited")
    limit_ms: int
    leases_lost: dict[str, int] = Field(
        description="partitions this server ran and lost the lease of, and when (epoch ms)"
    )


class DeadLettersAcknowledged(BaseModel):
    """An operator has seen a notifier's dead letters up to ``at``."""

    at: int = Field(description="epoch ms; dead letters recorded at or before it are seen")
    operator: str
    reason: str


class LoopHealth(BaseModel):
    """A loop of another process (an account's executor, a notifier) as it last wrote its
    status."""

    name: str
    last_success_at: int | None
    since_last_success_ms: int | None
    last_failure_at: int | None
    last_failure: str
    failures_in_row: int
    stopped_at: int | None = Field(description="set when it stopped cleanly")
    beat_at: int
    problem: str | None
    waiting: int | None = Field(
        description="a notifier's deliveries owed, neither delivered nor dead-lettered "
        "(of those it has read: up to 1,000); null for an executor"
    )
    oldest_waiting_at: int | None = Field(
        description="when the oldest delivery owed was emitted (epoch ms)"
    )
    dead_lettered_at: list[int] = Field(
        description="when its latest dead letters were recorded (epoch ms, up to 100)"
    )
    acknowledged: DeadLettersAcknowledged | None = Field(
        description="the last acknowledgement of its dead letters: only later ones count"
    )
    backlog_problems: list[str] = Field(
        description="its dead letters or its oldest undelivered notification past the limits"
    )


class HealthDocument(BaseModel):
    healthy: bool
    reasons: list[str]
    accounts: list[AccountHealth]
    projection: ProjectionHealth
    process: int = Field(description="the id of the serving process that answered")
    loops: list[LoopHealth]


class Problem(BaseModel):
    detail: str


class Document(Response):
    """JSON as the CLI writes it: orjson, with whatever is left (a Decimal) as its string."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return rendered(content)


def rendered(content: Any) -> bytes:
    """A document's JSON: orjson, a Decimal (or whatever else is left) as its string."""
    return orjson.dumps(content, default=str)
