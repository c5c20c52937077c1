"""The streams on a real JetStream server: made or brought up to date on start, leaving
alone what an operator set; a message sent twice with one id is stored once; and a server
without JetStream is named as such, in one line."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import nats
import pytest
from nats.aio.client import Client, ServerVersion
from nats.js import JetStreamContext

from tests.nats_streams import stored
from trueup.adapters.nats.connection import require_jetstream
from trueup.adapters.nats.streams import DEDUP_WINDOW_S, MSG_ID, StreamTaken, ensure_streams
from trueup.adapters.nats.subjects import Subjects
from trueup.runners.cli import main
from trueup_simulators.nats import NatsServer

T = TypeVar("T")


def with_jetstream(url: str, work: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    async def run() -> T:
        client = await nats.connect(url)
        try:
            return await work(client.jetstream())
        finally:
            await client.close()

    return asyncio.run(run())


def test_streams_are_created_once_then_left_as_they_are(
    nats_url: str, nats_subjects: Subjects
) -> None:
    first = with_jetstream(nats_url, lambda js: ensure_streams(js, nats_subjects))
    again = with_jetstream(nats_url, lambda js: ensure_streams(js, nats_subjects))

    inputs, events = nats_subjects.inputs_stream, nats_subjects.events_stream
    assert first == {inputs: "created", events: "created"}
    assert again == {inputs: "unchanged", events: "unchanged"}
    info = with_jetstream(nats_url, lambda js: js.stream_info(inputs))
    assert info.config.subjects == [nats_subjects.all_inputs]
    assert info.config.duplicate_window == DEDUP_WINDOW_S


def test_a_stream_that_differs_is_updated_keeping_what_an_operator_set(
    nats_url: str, nats_subjects: Subjects
) -> None:
    async def operator_changes_it(js: JetStreamContext) -> None:
        await ensure_streams(js, nats_subjects, dedup_window_s=5)
        info = await js.stream_info(nats_subjects.events_stream)
        await js.update_stream(info.config.evolve(max_msgs=10_000))

    with_jetstream(nats_url, operator_changes_it)
    done = with_jetstream(nats_url, lambda js: ensure_streams(js, nats_subjects))

    assert set(done.values()) == {"updated"}
    info = with_jetstream(nats_url, lambda js: js.stream_info(nats_subjects.events_stream))
    assert info.config.duplicate_window == DEDUP_WINDOW_S
    assert info.config.max_msgs == 10_000


def test_a_prefix_naming_another_prefixs_streams_is_refused_and_takes_none_over(
    nats_url: str, nats_subjects: Subjects
) -> None:
    """``Prod`` and ``prod``, ``a.b`` and ``a_b``: one stream name each pair, two trueups."""
    other = Subjects(nats_subjects.prefix.upper())
    assert other.inputs_stream == nats_subjects.inputs_stream
    with_jetstream(nats_url, lambda js: ensure_streams(js, nats_subjects))

    with pytest.raises(StreamTaken) as taken:
        with_jetstream(nats_url, lambda js: ensure_streams(js, other))

    assert str(taken.value) == (
        f"the NATS stream {other.inputs_stream} holds {nats_subjects.all_inputs}, not "
        f"{other.all_inputs}: another trueup's, whose prefix differs from this one's only in "
        "case or in '.' for '_'; give one of them another --nats-prefix"
    )
    info = with_jetstream(nats_url, lambda js: js.stream_info(nats_subjects.inputs_stream))
    assert info.config.subjects == [nats_subjects.all_inputs]


def test_a_message_published_twice_with_one_id_is_stored_once(
    nats_url: str, nats_subjects: Subjects
) -> None:
    subject = nats_subjects.inputs("bybit", "desk.eu")

    async def publish_twice(js: JetStreamContext) -> list[bool]:
        await ensure_streams(js, nats_subjects)
        acks = []
        for payload in (b'{"at": 1}', b'{"at": 1}', b'{"at": 2}'):
            msg_id = "input-2" if payload.endswith(b"2}") else "input-1"
            ack = await js.publish(subject, payload, headers={MSG_ID: msg_id})
            acks.append(ack.duplicate is True)
        return acks

    duplicates = with_jetstream(nats_url, publish_twice)

    assert duplicates == [False, True, False]
    held = stored(nats_url, nats_subjects.inputs_stream)
    assert [(m.subject, m.msg_id, m.data) for m in held] == [
        (subject, "input-1", b'{"at": 1}'),
        (subject, "input-2", b'{"at": 2}'),
    ]


def test_a_server_without_jetstream_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with NatsServer(jetstream=False) as server:
        code = main(["tail", "--nats", server.url])

    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"trueup: the NATS server at {server.url} has no JetStream: start it with -js "
        "(or jetstream {} in its configuration)"
    )


def test_no_server_at_all_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tail", "--nats", "nats://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trueup: no NATS server answers at nats://127.0.0.1:1")
    assert "\n" not in err


@pytest.mark.parametrize(
    ("option", "value", "told"),
    [
        (
            "--type",
            "PositionsReported",
            "is not a type of emitted event (inputs are not published)",
        ),
        ("--venue", "bybyt", "is not a venue trueup reads: one of aster, bybit, hyperliquid"),
    ],
)
def test_a_tail_filter_that_could_match_nothing_is_refused(
    option: str, value: str, told: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Refused before any server is asked: waiting on it would print nothing, for ever.
    assert main(["tail", "--nats", "nats://127.0.0.1:1", option, value]) == 2
    assert told in capsys.readouterr().err


def test_a_server_older_than_trueup_is_built_for_is_warned_of_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """nats-server 2.9 (Debian's) works, but lists a consumer being deleted as null, which
    nats-py cannot read (a walkthrough's crash): the operator is told, once."""

    class JetStream:
        async def account_info(self) -> None:
            return None

    class OldServer:  # what nats-py's client says of the server it is connected to
        connected_server_version = ServerVersion("2.9.10")

        def jetstream(self) -> JetStream:
            return JetStream()

    client = cast("Client", OldServer())
    with caplog.at_level("WARNING", logger="trueup.nats"):
        for _ in range(2):
            asyncio.run(require_jetstream(client, "nats://127.0.0.1:4299"))
    assert [r.getMessage() for r in caplog.records] == [
        "the NATS server at nats://127.0.0.1:4299 is nats-server 2.9: trueup is built for "
        "2.10 or later (docs/nats.md)"
    ]
