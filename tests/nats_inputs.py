"""Inputs for NATS tests: the recorded Bybit session as several accounts' own, published to
their inputs subjects as `trueup run --nats` publishes them, and what one process makes of
the same lines, to compare a distributed run with."""

import asyncio
from collections.abc import Iterable
from pathlib import Path

import nats
import orjson

from trueup.adapters.capture import decode_line
from trueup.adapters.nats.streams import MSG_ID, ensure_streams
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent

SAMPLE = Path(__file__).parent.parent / "samples" / "bybit-session.jsonl"


def account_session(account: str, venue: str = "bybit") -> list[bytes]:
    """The recorded session as ``account``'s alone: its clock ticks for that account only,
    as a `trueup run` for it ticks."""
    lines = []
    for raw in SAMPLE.read_bytes().splitlines():
        record = orjson.loads(raw)
        record["venue"], record["account"] = venue, account
        lines.append(orjson.dumps(record))
    return lines


def interleaved(*sessions: list[bytes]) -> list[bytes]:
    """The sessions' lines taken in turn, as several runners publish at once."""
    mixed: list[bytes] = []
    for at in range(max(len(s) for s in sessions)):
        mixed += [s[at] for s in sessions if at < len(s)]
    return mixed


def publish(url: str, subjects: Subjects, lines: Iterable[bytes]) -> None:
    """Each line on its account's inputs subject, its input id as its Nats-Msg-Id."""

    async def send() -> None:
        client = await nats.connect(url)
        try:
            js = client.jetstream()
            await ensure_streams(js, subjects)
            for line in lines:
                event = decode_line(line)
                subject = subjects.inputs(event.venue, event.account)
                await js.publish(subject, line, headers={MSG_ID: event.input_id})
        finally:
            await client.close()

    asyncio.run(send())


def publish_raw(url: str, subject: str, payload: bytes, msg_id: str) -> None:
    async def send() -> None:
        client = await nats.connect(url)
        try:
            await client.jetstream().publish(subject, payload, headers={MSG_ID: msg_id})
        finally:
            await client.close()

    asyncio.run(send())


def by_account(events: Iterable[InputEvent]) -> dict[tuple[str, str], list[str]]:
    """Each account's input ids, in the journal's order."""
    found: dict[tuple[str, str], list[str]] = {}
    for event in events:
        found.setdefault((event.venue, event.account), []).append(event.input_id)
    return found


def journal_contents(store: str) -> tuple[list[InputEvent], list[Emitted]]:
    """The inputs and the emitted events a journal holds, in stored order."""
    with Journal.open(store) as journal:
        stored = [e for _, e in journal.all_events()]
    inputs = [e for e in stored if not isinstance(e, Emitted)]
    return inputs, [e for e in stored if isinstance(e, Emitted)]


def one_process(store: str, lines: list[bytes]) -> tuple[list[InputEvent], list[Emitted]]:
    """What `trueup ingest` of the same lines in one process stores and emits."""
    with Journal.open(store, create=True) as journal:
        TrueupService(journal).ingest([lines])
    return journal_contents(store)
