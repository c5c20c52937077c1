"""What `trueup serve` exposes at /metrics, in Prometheus' text format.

Each server has a registry of its own (not prometheus-client's global one), so two servers in
one process, as in the tests, count apart.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from trueup.adapters.capture import CHANNELS, reads_venue
from trueup.application.answer_cache import AnswerCache
from trueup.application.answers import AccountFreshness
from trueup.domain.events import InputEvent, InputRejected
from trueup.runners.http_projection import Lag
from trueup.runners.http_stream import JournalFollower

# Label values come from what clients send: held to the known ones, so a hostile body
# cannot grow the series without bound.
OTHER = "other"


class ApiMetrics:
    """The server's counters and histograms; the exchange view ages, the projection's lag
    and the event streams read at each scrape."""

    def __init__(
        self,
        freshness: Callable[[], list[AccountFreshness]],
        lag: Callable[[], Lag],
        follower: JournalFollower,
        caches: Mapping[str, AnswerCache[Any, Any]],
    ) -> None:
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
        self.emitted = Counter(
            "trueup_emitted_events",
            "Events the detectors emitted, by type, as this server saw them stored (by any "
            "process) since it started.",
            ["type"],
            registry=self.registry,
        )
        self.registry.register(ExchangeViewAge(freshness))
        self.registry.register(ProjectionLag(lag))
        self.registry.register(EventStreams(follower))
        self.registry.register(KeptAnswers(caches))

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
    return event.venue if reads_venue(event.venue) else OTHER


def _channel(event: InputEvent) -> str:
    """The capture line's channel: a rejected input keeps it, an accepted one's raw line has it."""
    if isinstance(event, InputRejected):
        channel = event.channel
    else:
        channel = orjson.loads(event.raw).get("channel")
    return channel if channel in CHANNELS else OTHER


class ProjectionLag(Collector):
    """How far the projection, whoever runs it, is behind the journal's end."""

    def __init__(self, lag: Callable[[], Lag]) -> None:
        self.lag = lag

    def collect(self) -> Iterator[Metric]:
        lag = self.lag()
        yield GaugeMetricFamily(
            "trueup_projection_lag_inputs",
            "Inputs stored that the projection has not processed yet (counted up to 2000).",
            value=lag.inputs,
        )
        yield GaugeMetricFamily(
            "trueup_projection_lag_seconds",
            "How long the oldest input the projection has not processed has been stored.",
            value=lag.ms / 1000,
        )
        yield GaugeMetricFamily(
            "trueup_projection_leases_lost",
            "Partitions whose lease this server held and lost, and has not taken back.",
            value=len(lag.lost),
        )


class EventStreams(Collector):
    """The live event streams: how many are open, and how many were dropped for falling
    behind."""

    def __init__(self, follower: JournalFollower) -> None:
        self.follower = follower

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "trueup_event_streams",
            "Event streams following the journal now.",
            value=len(self.follower.subscribers),
        )
        yield CounterMetricFamily(
            "trueup_event_streams_dropped",
            "Event streams disconnected because their client fell too far behind.",
            value=self.follower.dropped,
        )


class KeptAnswers(Collector):
    """How often an answer kept at the journal's end served a request (a hit), and how often
    the journal was read for one (a miss: the end had moved, or a new question)."""

    def __init__(self, caches: Mapping[str, AnswerCache[Any, Any]]) -> None:
        self.caches = caches

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "trueup_http_kept_answers",
            "Requests answered from what was read at the same journal end (hit), or by "
            "reading the journal (miss), by endpoint.",
            labels=["endpoint", "outcome"],
        )
        for endpoint, cache in self.caches.items():
            family.add_metric([endpoint, "hit"], cache.hits)
            family.add_metric([endpoint, "miss"], cache.misses)
        yield family
