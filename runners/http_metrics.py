"""What `trueup serve` exposes at /metrics, in Prometheus' text format.

Each server has a registry of its own (not prometheus-client's global one), so two servers in
one process, as in the tests, count apart.
"""

from collections.abc import Callable, Iterator

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from trueup.adapters.capture import CHANNELS, VENUES
from trueup.application.answers import AccountFreshness
from trueup.domain.events import InputEvent, InputRejected

# Label values come from what clients send: held to the known ones, so a hostile body
# cannot grow the series without bound.
OTHER = "other"


class ApiMetrics:
    """The server's counters and histograms, and the exchange view ages read at each scrape."""

    def __init__(self, freshness: Callable[[], list[AccountFreshness]]) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "trueup_http_request_duration_seconds",
            "Time to answer an HTTP request, by endpoint (its route) and method.",
            ["endpoint", "method"],
            registry=self.registry,
        )
        self.inputs = Counter(
            "trueup_api_inputs",
            "Input lines taken through POST /v1/inputs, by venue, channel and outcome "
            "(accepted or rejected: a rejected line is stored with its reason).",
            ["venue", "channel", "outcome"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "trueup_api_duplicate_inputs",
            "Input lines POSTed that the journal already held: stored once, not again.",
            registry=self.registry,
        )
        self.registry.register(ExchangeViewAge(freshness))

    def count_input(self, event: InputEvent) -> None:
        outcome = "rejected" if isinstance(event, InputRejected) else "accepted"
        self.inputs.labels(_venue(event), _channel(event), outcome).inc()


class ExchangeViewAge(Collector):
    """The age of each followed account's exchange view, read from the journal when scraped."""

    def __init__(self, freshness: Callable[[], list[AccountFreshness]]) -> None:
        self.freshness = freshness

    def collect(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "trueup_exchange_view_age_seconds",
            "Time since the account's last complete snapshot of the exchange's positions.",
            labels=["venue", "account"],
        )
        fresh = GaugeMetricFamily(
            "trueup_exchange_view_fresh",
            "1 while the account's exchange view is fresh enough for can-open to vouch, else 0.",
            labels=["venue", "account"],
        )
        for account in self.freshness():
            labels = [account.venue, account.account]
            if account.age_ms is not None:
                age.add_metric(labels, account.age_ms / 1000)
            fresh.add_metric(labels, 0 if account.stale_reasons else 1)
        yield age
        yield fresh


def _venue(event: InputEvent) -> str:
    return event.venue if event.venue in VENUES else OTHER


def _channel(event: InputEvent) -> str:
    """The capture line's channel: a rejected input keeps it, an accepted one's raw line has it."""
    if isinstance(event, InputRejected):
        channel = event.channel
    else:
        channel = orjson.loads(event.raw).get("channel")
    return channel if channel in CHANNELS else OTHER
