"""The generated OpenAPI document holds: schemathesis asks every endpoint what the document
allows (and what it does not) of a real server, and each answer must match the document and
never be a server error."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
)

from tests.http_server import SAMPLE, SAMPLE_END, TOKEN, running_server
from trueup.adapters.store.journal import Journal
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings

TAKE_NOTHING = ("/health", "/metrics")


@pytest.fixture(scope="module")
def served_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    """The server's own /openapi.json, read over HTTP, its base URL the server's."""
    store = f"sqlite://{tmp_path_factory.mktemp('openapi') / 'journal.db'}"
    assert main(["--store", store, "ingest", str(SAMPLE)]) == 0
    with (
        Journal.open(store, create=False) as journal,
        running_server(journal, ApiSettings(token=TOKEN), lambda: SAMPLE_END) as url,
    ):
        assert httpx.get(f"{url}/openapi.json").status_code == 200
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


# Each operation's cases are drawn here rather than by schemathesis' pytest plugin, which
# does not run on this pytest (it reads a node attribute pytest 9 no longer has).
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_endpoint_answers_as_its_document_says(
    served_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    operations = [result.ok() for result in served_schema.get_all_operations()]  # type: ignore[union-attr]
    # the eight reads, inputs, trigger commands, notify test and acknowledge, health, metrics
    assert len(operations) == 14

    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.path in TAKE_NOTHING:
            continue  # no request to them can be wrong
        answers_as_documented(operation, mode)


def answers_as_documented(
    operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode
) -> None:
    """Every case drawn for ``operation`` is answered as the document says."""
    # /health's 503 is its answer, not a failure of the server; POST /v1/inputs takes a
    # malformed line on purpose, storing it as a rejected input with its reason; and a
    # well-formed cursor of /v1/events past the journal's end is 422 (a cursor of another
    # journal), which no schema can say of a number.
    waived = {
        "/health": [not_a_server_error],
        "/v1/inputs": [negative_data_rejection],
        "/v1/events": [positive_data_acceptance],
    }.get(operation.path, [])

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def each_case(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=waived)

    each_case()
