"""What a web page open in the operator's browser must not do to a local `trueup serve`: write
to one started without a token (any site may POST to 127.0.0.1), read it through a name
rebound to 127.0.0.1, or find a token someone put in a URL in its log or its answers."""

import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.http_server import (
    AUTH,
    SAMPLE_END,
    TOKEN,
    closing_snapshot,
    running_server,
    serve_process,
)
from trueup.adapters.store.journal import Journal
from trueup.runners.http_api import ApiSettings
from trueup.runners.http_browsers import SecretsMasked

# What a page of another site sends with its POST (a "simple" request: no preflight).
FROM_ANOTHER_SITE = [{"Origin": "http://127.0.0.2:18810"}, {"Sec-Fetch-Site": "cross-site"}]


@contextmanager
def client(journal: Journal, settings: ApiSettings) -> Iterator[httpx.Client]:
    with (
        running_server(journal, settings, lambda: SAMPLE_END) as url,
        httpx.Client(base_url=url, timeout=30) as served,
    ):
        yield served


def stored(served: httpx.Client) -> int:
    return len(served.get("/v1/events", params={"after": 0}).json()["events"])


@pytest.mark.parametrize("headers", FROM_ANOTHER_SITE, ids=["origin", "sec-fetch-site"])
def test_without_a_token_a_browsers_write_is_refused_and_a_programs_taken(
    journal: Journal, headers: dict[str, str]
) -> None:
    """A walkthrough's page of another origin turned can-open's no into a yes this way."""
    with client(journal, ApiSettings(token=None)) as served:
        refused = served.post("/v1/inputs", content=closing_snapshot(SAMPLE_END), headers=headers)
        assert refused.status_code == 403
        assert "set TRUEUP_API_TOKEN" in refused.json()["detail"]
        assert stored(served) == 0
        taken = served.post("/v1/inputs", content=closing_snapshot(SAMPLE_END))
        assert taken.json()["accepted"] == 1


def test_with_the_token_a_browsers_write_is_taken(journal: Journal) -> None:
    """A page cannot send the token unless it holds it: one that does is trusted as much."""
    with client(journal, ApiSettings(token=TOKEN)) as served:
        headers = AUTH | FROM_ANOTHER_SITE[0]
        taken = served.post("/v1/inputs", content=closing_snapshot(SAMPLE_END), headers=headers)
        assert taken.json()["accepted"] == 1


@pytest.mark.parametrize("host", ["127.0.0.1:8780", "localhost", "[::1]:8780", "LOCALHOST:1"])
def test_served_on_loopback_a_loopback_host_is_answered(journal: Journal, host: str) -> None:
    with client(journal, ApiSettings(token=TOKEN, host="127.0.0.1")) as served:
        assert served.get("/v1/positions", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8780", "10.0.0.1", ""])
def test_served_on_loopback_another_host_is_refused(journal: Journal, host: str) -> None:
    """A site whose name resolves to 127.0.0.1 (DNS rebinding) would read every answer."""
    with client(journal, ApiSettings(token=TOKEN, host="127.0.0.1")) as served:
        refused = served.get("/v1/positions", headers={"Host": host})
        assert refused.status_code == 421
        assert "loopback" in refused.json()["detail"]


def test_a_wrong_token_is_told_apart_from_none(journal: Journal) -> None:
    with client(journal, ApiSettings(token=TOKEN)) as served:
        none = served.post("/v1/inputs", content=b"{}").json()["detail"]
        wrong = served.post(
            "/v1/inputs", content=b"{}", headers={"Authorization": "Bearer stale"}
        ).json()["detail"]
    assert none.startswith("a bearer token is required")
    assert wrong == "the bearer token given is not this server's ($TRUEUP_API_TOKEN)"


def test_a_token_put_in_the_url_is_not_echoed_by_a_422(journal: Journal) -> None:
    with client(journal, ApiSettings(token=TOKEN)) as served:
        reply = served.get("/v1/positions", params={"token": "s3cret-T0ken"}, headers=AUTH)
    assert reply.status_code == 422
    assert "s3cret-T0ken" not in reply.text
    assert reply.json()["detail"][0]["loc"] == ["query", "token"]


def test_the_access_log_masks_a_secret_in_a_query_and_keeps_the_rest() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/v1/inputs?venue=bybit&Token=s3cret&access_token=x", "1.1", 401),
        None,
    )  # fmt: skip
    assert SecretsMasked().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5 - "POST /v1/inputs?venue=bybit&Token=***&access_token=*** HTTP/1.1" 401'
    )


def test_serve_logs_no_token_a_client_put_in_the_url(tmp_path: Path) -> None:
    process, url = serve_process(str(tmp_path / "journal.db"), stdout=subprocess.PIPE)
    try:
        with httpx.Client(base_url=url, timeout=30) as served:
            served.post("/v1/inputs?token=s3cret-T0ken", content=b"{}")
            served.get("/v1/positions", params={"access_token": "s3cret-T0ken"})
    finally:
        process.terminate()
        logged, rest = process.communicate(timeout=30)
    assert "s3cret-T0ken" not in logged + rest
    assert "/v1/inputs?token=*** HTTP/1.1" in logged
