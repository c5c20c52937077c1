"""What `trueup serve` exposes at /metrics, in Prometheus' text format.

Each server has a registry of its own (not prometheus-client's global one), so two servers in
one process, as in the tests, count apart. With ``--workers N`` the processes write their
figures to files in PROMETHEUS_MULTIPROC_DIR (a directory the parent makes for them:
prometheus-client's multiprocess mode), and whichever process answers /metrics sums them all.
"""

import os
from collections.abc import Callable, Iterator

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from trueup.adapters.capture import CHANNELS, reads_venue
from trueup.application.answers import AccountFreshness
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent, InputRejected, StreamReconnected
from trueup.runners.http_projection import Lag

# Where prometheus-client's multiprocess mode keeps each process's figures (its own name).
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Label values come from what clients send: held to the known ones, so a hostile body
# cannot grow the series without bound.
OTHER = "other"
# From an input stored to what it made emitted: a POST detected in process takes a few
# milliseconds; one another process appended waits for the projection's poll (25 ms).
DETECTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ApiMetrics:
    """The server's counters, histograms and gauges; the exchange view ages read from the
    journal at each scrape."""

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
        self.emitted = Counter(
            "trueup_emitted_events",
            "Events the detectors emitted, by type, as this server saw them stored (by any "
            "process) since it started.",
            ["type"],
            registry=self.registry,
        )
        self.reconnects = Counter(
            "trueup_feed_reconnects",
            "Venue streams rebuilt after they died (the feed's reconnected inputs, whoever "
            "stored them), by venue and account, since this server started.",
            ["venue", "account"],
            registry=self.registry,
        )
        self.detection = Histogram(
            "trueup_detection_latency_seconds",
            "From an input's arrival (its POST's receipt, or the projection's first sight of "
            "it stored) to the events it made emitted being stored, by type; observed where "
            "the projection runs.",
            ["type"],
            buckets=DETECTION_BUCKETS,
            registry=self.registry,
        )
        self.lag_inputs = Gauge(
            "trueup_projection_lag_inputs",
            "Inputs stored that the projection has not processed yet (counted up to 2000).",
            multiprocess_mode="livemax",
            registry=self.registry,
        )
        self.lag_seconds = Gauge(
            "trueup_projection_lag_seconds",
            "How long the oldest input the projection has not processed has been stored.",
            multiprocess_mode="livemax",
            registry=self.registry,
        )
        self.leases_lost = Gauge(
            "trueup_projection_leases_lost",
            "Partitions whose lease this server held and lost, and has not taken back.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.streams = Gauge(
            "trueup_event_streams",
            "Event streams following the journal now.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self.streams_dropped = Counter(
            "trueup_event_streams_dropped",
            "Event streams disconnected because their client fell too far behind.",
            registry=self.registry,
        )
        self.kept = Counter(
            "trueup_http_kept_answers",
            "Requests answered from what was read at the same journal end (hit), or by "
            "reading the journal (miss), by endpoint.",
            ["endpoint", "outcome"],
            registry=self.registry,
        )
        self.view_age = ExchangeViewAge(freshness)
        self.registry.register(self.view_age)

    def text(self) -> bytes:
        """The scrape: this process's figures, or, in multiprocess mode, every process's."""
        directory = os.environ.get(MULTIPROCESS_ENV)
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
        registry.register(self.view_age)  # read from the journal: the same in any process
        return generate_latest(registry)

    def count_input(self, event: InputEvent) -> None:
        outcome = "rejected" if isinstance(event, InputRejected) else "accepted"
        self.inputs.labels(_venue(event), _channel(event), outcome).inc()

    def count_stored(self, event: InputEvent | Emitted) -> None:
        """An event the journal stored, whoever stored it: emitted ones and reconnects."""
        if isinstance(event, Emitted):
            self.emitted.labels(event.type).inc()
        elif isinstance(event, StreamReconnected):
            self.reconnects.labels(_venue(event), event.account).inc()

    def tally(self, endpoint: str) -> Callable[[bool], None]:
        """What counts the kept answers of ``endpoint``: a hit, or a miss."""
        hit, miss = self.kept.labels(endpoint, "hit"), self.kept.labels(endpoint, "miss")
        return lambda kept: (hit if kept else miss).inc()

    def measured(self, lag: Lag) -> None:
        self.lag_inputs.set(lag.inputs)
        self.lag_seconds.set(lag.ms / 1000)
        self.leases_lost.set(len(lag.lost))


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
