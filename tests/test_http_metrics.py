"""`trueup serve`'s /metrics, read as Prometheus reads it (prometheus-client's own parser):
inputs stored and rejected by venue and channel, events emitted by type, the detection
latency, feed reconnects, the projection's lag, the exchange view's age and request latency
by endpoint. On SQLite and on PostgreSQL, over the recorded Bybit session.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.http_server import (
    AUTH,
    SAMPLE_END,
    TOKEN,
    closing_snapshot,
    running_server,
    scrape,
)
from tests.inputs import line, position_frame
from tests.live_harness import wait_for
from trueup.adapters import feed_status
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.projections.partitions import ALL, tracker
from trueup.runners.http_api import ApiSettings


def post(api: httpx.Client, *lines: bytes) -> dict[str, Any]:
    reply = api.post("/v1/inputs", content=b"\n".join(lines), headers=AUTH)
    assert reply.status_code == 200
    answer: dict[str, Any] = reply.json()
    return answer


def reconnected(at: int, account: str = "main") -> bytes:
    """The line `trueup run` stores when it has rebuilt an account's venue stream."""
    record = feed_status.reconnected(
        at, "bybit", account, stream="private", reason="ping timeout", attempt=2
    )
    return line(record)


@pytest.fixture
def api(sampled: str) -> Iterator[httpx.Client]:
    """A client of a server over the sampled journal, its clock at the sample's end."""
    with (
        Journal.open(sampled, create=False) as journal,
        running_server(journal, ApiSettings(token=TOKEN), lambda: SAMPLE_END) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def test_every_metric_the_issue_names_is_exposed_with_its_kind(api: httpx.Client) -> None:
    api.get("/v1/positions")
    post(api, closing_snapshot(SAMPLE_END - 1_000))
    found = scrape(api)
    assert {
        name: found.kind(name)
        for name in (
            "trueup_api_inputs",
            "trueup_emitted_events",
            "trueup_detection_latency_seconds",
            "trueup_feed_reconnects",
            "trueup_projection_lag_inputs",
            "trueup_projection_lag_seconds",
            "trueup_exchange_view_age_seconds",
            "trueup_http_request_duration_seconds",
        )
    } == {
        "trueup_api_inputs": "counter",
        "trueup_emitted_events": "counter",
        "trueup_detection_latency_seconds": "histogram",
        "trueup_feed_reconnects": "counter",
        "trueup_projection_lag_inputs": "gauge",
        "trueup_projection_lag_seconds": "gauge",
        "trueup_exchange_view_age_seconds": "gauge",
        "trueup_http_request_duration_seconds": "histogram",
    }


def test_inputs_are_counted_by_venue_channel_and_outcome(api: httpx.Client) -> None:
    at = SAMPLE_END - 2_000
    answer = post(
        api,
        closing_snapshot(SAMPLE_END - 3_000),
        line(position_frame(at, symbol="XRPUSDT", side="", size="0", seq=9_000, updated_time=at)),
        reconnected(SAMPLE_END - 1_000),
        b"not json",
    )
    assert (answer["accepted"], answer["rejected"]) == (3, 1)
    found = scrape(api)
    counted = {
        (labels["venue"], labels["channel"], labels["outcome"]): found.value(
            "trueup_api_inputs_total", **labels
        )
        for labels in found.labelled("trueup_api_inputs_total")
    }
    assert counted == {
        ("bybit", "rest", "accepted"): 1.0,
        ("bybit", "ws", "accepted"): 1.0,
        ("bybit", "feed", "accepted"): 1.0,
        ("other", "other", "rejected"): 1.0,
    }


def test_events_emitted_are_counted_by_type_and_timed_from_the_post(api: httpx.Client) -> None:
    emitted = post(api, closing_snapshot(SAMPLE_END - 1_000))["emitted"]
    assert emitted["POSITION_CLOSED"] == 1

    def counted() -> bool:
        value = scrape(api).value("trueup_emitted_events_total", type="POSITION_CLOSED")
        return value == 1.0

    wait_for("the POSITION_CLOSED counted", counted)
    found = scrape(api)
    for type_, count in emitted.items():
        assert found.value("trueup_emitted_events_total", type=type_) == count
        # Each emitted event timed once, from the POST's receipt to its being stored.
        assert found.value("trueup_detection_latency_seconds_count", type=type_) == count
        detected = found.value("trueup_detection_latency_seconds_sum", type=type_)
        assert detected is not None and detected > 0
        everything = found.value("trueup_detection_latency_seconds_bucket", type=type_, le="+Inf")
        assert everything == count


def test_what_another_process_appends_is_counted_and_timed_where_it_is_detected(
    api: httpx.Client, sampled: str
) -> None:
    with Journal.open(sampled, create=False) as elsewhere:
        report = TrueupService(elsewhere).ingest([[closing_snapshot(SAMPLE_END - 1_000)]])
    assert report.detected_here is False  # the server holds the leases: it detects

    def timed() -> bool:
        found = scrape(api)
        return (
            found.value("trueup_detection_latency_seconds_count", type="POSITION_CLOSED") == 1.0
            and found.value("trueup_emitted_events_total", type="POSITION_CLOSED") == 1.0
        )

    wait_for("the POSITION_CLOSED detected by the server, timed and counted", timed)


def test_feed_reconnects_are_counted_by_venue_and_account_whoever_stored_them(
    api: httpx.Client, sampled: str
) -> None:
    post(api, reconnected(SAMPLE_END - 2_000))
    with Journal.open(sampled, create=False) as elsewhere:  # as `trueup run` stores them
        TrueupService(elsewhere).ingest(
            [[reconnected(SAMPLE_END - 1_000), reconnected(SAMPLE_END - 900, account="desk")]]
        )
    expected = {"main": 2.0, "desk": 1.0}

    def counted() -> dict[str, float | None]:
        found = scrape(api)
        return {
            account: found.value("trueup_feed_reconnects_total", venue="bybit", account=account)
            for account in expected
        }

    wait_for("three reconnects counted", lambda: counted() == expected)
    # Each is detected too (the server runs the projection), a WS_RECONNECT apiece.
    wait_for(
        "three WS_RECONNECT",
        lambda: scrape(api).value("trueup_emitted_events_total", type="WS_RECONNECT") == 3.0,
    )


def test_projection_lag_counts_the_inputs_waiting_and_for_how_long(sampled: str) -> None:
    with Journal.open(sampled, create=False) as holder:
        # Another process holds every partition and processes nothing: the inputs wait.
        leases = holder.leases([tracker(n) for n in ALL])
        assert all(lease.acquire() for lease in leases.values())
        with (
            Journal.open(sampled, create=False) as journal,
            running_server(journal, ApiSettings(token=TOKEN), lambda: SAMPLE_END) as url,
            httpx.Client(base_url=url, timeout=30) as api,
        ):
            TrueupService(holder).ingest(
                [[closing_snapshot(SAMPLE_END - 1_000), reconnected(SAMPLE_END - 900)]],
                detect=False,
            )

            def behind() -> bool:
                found = scrape(api)
                waited = found.value("trueup_projection_lag_seconds")
                return found.value("trueup_projection_lag_inputs") == 2.0 and bool(waited)

            wait_for("the lag of two inputs", behind)
            for lease in leases.values():
                lease.release()
            wait_for(
                "the server to take the partitions and catch up",
                lambda: scrape(api).value("trueup_projection_lag_inputs") == 0.0,
            )
            assert scrape(api).value("trueup_projection_lag_seconds") == 0.0


def test_the_exchange_view_age_is_read_at_each_scrape(api: httpx.Client) -> None:
    labels = {"venue": "bybit", "account": "main"}
    stale = scrape(api)
    assert stale.value("trueup_exchange_view_age_seconds", **labels) == 70.0
    assert stale.value("trueup_exchange_view_fresh", **labels) == 0.0
    post(api, closing_snapshot(SAMPLE_END - 1_000))
    fresh = scrape(api)
    assert fresh.value("trueup_exchange_view_age_seconds", **labels) == 1.0
    assert fresh.value("trueup_exchange_view_fresh", **labels) == 1.0


def test_request_latency_is_by_endpoint_not_by_url(api: httpx.Client) -> None:
    for symbol in ("ETHUSDT", "BTCUSDT", "DOGEUSDT"):
        query = {"venue": "bybit", "account": "main", "symbol": symbol}
        assert api.get("/v1/can-open", params=query).status_code == 200
    api.get("/v1/positions", params={"symbol": "XRPUSDT"})
    api.get("/v1/no-such-thing")
    found = scrape(api)
    count = "trueup_http_request_duration_seconds_count"
    assert found.value(count, endpoint="/v1/can-open", method="GET") == 3.0
    assert found.value(count, endpoint="/v1/positions", method="GET") == 1.0
    assert found.value(count, endpoint="other", method="GET") == 1.0
    endpoints = {labels["endpoint"] for labels in found.labelled(count)}
    assert not any("?" in endpoint or "USDT" in endpoint for endpoint in endpoints)


def test_kept_answers_are_timed_and_a_path_is_timed_by_the_route_its_method_takes(
    api: httpx.Client,
) -> None:
    query = {"venue": "bybit", "account": "main", "symbol": "ETHUSDT"}
    for _ in range(3):  # the second and third answered from what was kept, ahead of FastAPI
        assert api.get("/v1/can-open", params=query).status_code == 200
    assert api.get("/v1/inputs").status_code == 405
    post(api, closing_snapshot(SAMPLE_END))
    found = scrape(api)
    count = "trueup_http_request_duration_seconds_count"
    assert found.value(count, endpoint="/v1/can-open", method="GET") == 3.0
    assert found.value(count, endpoint="other", method="GET") == 1.0
    assert found.value(count, endpoint="/v1/inputs", method="POST") == 1.0
