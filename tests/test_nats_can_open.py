"""Can-open over NATS request/reply, against a real NATS server: the answer is the document
`GET /v1/can-open` gives and the verdict `trueup can-open --json` prints, yes and no; any
account name is asked on its encoded subject; a malformed request is told why and the
responder answers on; of several responders in a queue group exactly one answers each
request; and NATS killed and started again only pauses the answers."""

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson
import pytest
from nats.aio.msg import Msg

from tests.http_server import SAMPLE_END, running_server
from tests.inputs import T0, intent, line, opened, position_frame, position_snapshot
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store.journal import Journal
from trueup.application.can_open import CanOpenAnswer
from trueup.application.service import TrueupService
from trueup.client.documents import Unreachable
from trueup.client.nats import Refused, can_open_over_nats
from trueup.domain.vocabulary import PositionSide
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings
from trueup.runners.nats_can_open import CanOpenResponder
from trueup_simulators.nats import NatsServer

Json = dict[str, Any]
# Just after the sample's last complete snapshot of the exchange: its view is fresh, so the
# answer is yes for a symbol nothing holds and no for one the exchange holds.
FRESH_AT = 1_762_199_272_000
REQUEST_TIMEOUT_S = 5.0


@pytest.fixture
def sampled_journal(sampled: str) -> Iterator[Journal]:
    with Journal.open(sampled, create=False) as journal:
        yield journal


@asynccontextmanager
async def responding(
    url: str, subjects: Subjects, service: TrueupService, lock: "threading.Lock | None" = None
) -> AsyncIterator[CanOpenResponder]:
    """A responder answering until the block ends, as `trueup worker --nats` runs one."""
    responder = CanOpenResponder(url, subjects, service, lock or threading.Lock())
    await responder.start()
    try:
        yield responder
    finally:
        await responder.stop()


async def ask(url: str, subject: str, body: bytes) -> Json:
    """The reply to one raw request."""
    client = await nats.connect(url)
    try:
        reply = await client.request(subject, body, timeout=REQUEST_TIMEOUT_S)
    finally:
        await client.close()
    assert (reply.headers or {}).get("content-type") == "application/json"
    document: Json = orjson.loads(reply.data)
    return document


def desk_eu(account: str) -> list[bytes]:
    """A LIVE account holding LONG 0.3 BTCUSDT, the exchange asked for all its positions."""
    held = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.3", "seq": 1}
    records = [
        intent(T0, kind="account_mode", mode="LIVE"),
        opened(T0 + 1_000, "p-1", "BTCUSDT", "0.3"),
        position_frame(T0 + 2_000, **held, updated_time=T0 + 2_000),
        position_snapshot(T0 + 3_000, held | {"updated_time": T0 + 2_000}),
    ]
    return [line(record | {"account": account}) for record in records]


# --- the same answer as HTTP and the CLI ----------------------------------------------------


def test_over_nats_the_answer_is_the_http_document_and_the_cli_verdict(
    sampled: str,
    sampled_journal: Journal,
    nats_url: str,
    nats_subjects: Subjects,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asked: list[Json] = [
        {"symbol": "ETHUSDT", "at": FRESH_AT},  # nothing held, the view fresh: yes
        # never seen, a linear USDT contract by its name: the view covers it, yes
        {"symbol": "NEVERSEENUSDT", "at": FRESH_AT, "side": "long"},
        {"symbol": "BTCUSDT", "at": FRESH_AT},  # the exchange holds it: no
        {"symbol": "DOGEUSDT", "at": FRESH_AT, "side": "Sell"},
        {"symbol": "ETHUSDT", "at": SAMPLE_END},  # the view 70 s old: no
        {"symbol": "XRP/USDT:USDT", "at": FRESH_AT},  # ccxt's name for what it holds: no
    ]

    async def over_nats() -> list[Json]:
        service = TrueupService(sampled_journal)
        async with responding(nats_url, nats_subjects, service):
            subject = nats_subjects.can_open("bybit", "main")
            return [await ask(nats_url, subject, orjson.dumps(query)) for query in asked]

    replies = asyncio.run(over_nats())
    settings = ApiSettings(token=None)
    with (
        running_server(sampled_journal, settings, lambda: SAMPLE_END) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as http,
    ):
        for query, reply in zip(asked, replies, strict=True):
            where = {"venue": "bybit", "account": "main"}
            assert reply == http.get("/v1/can-open", params=where | query).json(), query
            command = ["--store", sampled, "can-open", "--venue", "bybit", "--account", "main"]
            command += ["--symbol", query["symbol"], "--at", str(query["at"]), "--json"]
            command += ["--side", query["side"]] if "side" in query else []
            capsys.readouterr()
            main(command)
            verdict = orjson.loads(capsys.readouterr().out)
            assert reply == where | {"symbol": query["symbol"]} | verdict, query
    assert [reply["allowed"] for reply in replies] == [True, True, False, False, False, False]
    assert replies[2]["reasons"] == ["the exchange holds LONG 0.15 BTCUSDT (idx 0, seq 9518243310)"]
    assert "exchange view is 70 s old" in replies[4]["reasons"][0]
    assert replies[5]["reasons"][0] == "XRP/USDT:USDT is ccxt's name; bybit calls it XRPUSDT"


def test_an_account_name_with_a_dot_is_asked_on_its_encoded_subject(
    tmp_path: Path, nats_url: str, nats_subjects: Subjects
) -> None:
    async def scenario(service: TrueupService) -> None:
        async with responding(nats_url, nats_subjects, service):
            held = await can_open_over_nats(
                nats_url, "bybit", "desk.eu", "BTCUSDT", at=T0 + 5_000, prefix=nats_subjects.prefix
            )
            assert held == {
                "venue": "bybit",
                "account": "desk.eu",
                "symbol": "BTCUSDT",
                "allowed": False,
                "reasons": ["the exchange holds LONG 0.3 BTCUSDT (idx 0, seq 1)"],
                "notes": [],
            }
            client = await nats.connect(nats_url)
            try:
                free = await can_open_over_nats(
                    client,
                    "bybit",
                    "desk.eu",
                    "ETHUSDT",
                    side="short",
                    at=T0 + 5_000,
                    prefix=nats_subjects.prefix,
                )
                # "desk" is another account, which trueup has never seen.
                other = await can_open_over_nats(
                    client, "bybit", "desk", "ETHUSDT", at=T0 + 5_000, prefix=nats_subjects.prefix
                )
            finally:
                await client.close()
            assert free["allowed"], free
            assert not other["allowed"]
            assert other["reasons"] == [
                "trueup has never seen this account: the journal holds nothing from its "
                "exchange or its bot"
            ]

    assert nats_subjects.can_open("bybit", "desk.eu") == (
        f"{nats_subjects.prefix}.can-open.bybit.desk~2Eeu"
    )
    with Journal.open(f"sqlite://{tmp_path / 'journal.db'}") as journal:
        service = TrueupService(journal)
        service.ingest([desk_eu("desk.eu")])
        asyncio.run(scenario(service))


# --- malformed requests ---------------------------------------------------------------------


class FailingOn(TrueupService):
    """A service that breaks on one symbol, as a bug would."""

    def can_open(
        self,
        venue: str,
        account: str,
        symbol: str,
        *,
        side: PositionSide | None = None,
        timeframe: str | None = None,
        at: int | None = None,
    ) -> CanOpenAnswer:
        if symbol == "BOOM":
            raise RuntimeError("a bug")
        return super().can_open(venue, account, symbol, side=side, timeframe=timeframe, at=at)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"not json", "the request is not JSON"),
        (b"", "the request is not JSON"),
        (b'["BTCUSDT"]', "not a JSON object"),
        (b"{}", "symbol: missing"),
        (b'{"symbol": ""}', "symbol: must be text"),
        (b'{"symbol": 7}', "symbol: must be text"),
        (
            b'{"symbol": "BTCUSDT", "side": "up"}',
            'side: must be long or short (or buy, sell), not "up"',
        ),
        (b'{"symbol": "BTCUSDT", "qty": "1"}', "unknown field 'qty'"),
        (b'{"symbol": "BTCUSDT", "at": "soon"}', "at: must be epoch milliseconds"),
        (b'{"symbol": "BTCUSDT", "at": 5}', "at: must be epoch milliseconds"),
        (b'{"symbol": "BTCUSDT", "at": true}', "at: must be epoch milliseconds"),
        (b'{"symbol": "BTCUSDT", "timeframe": 15}', "timeframe: must be text"),
        (b'{"symbol": "BOOM"}', "trueup failed to answer: see its log"),
    ],
)
def test_a_malformed_request_is_told_why_and_the_responder_answers_on(
    tmp_path: Path, nats_url: str, nats_subjects: Subjects, body: bytes, said: str
) -> None:
    async def scenario(service: TrueupService) -> None:
        subject = nats_subjects.can_open("bybit", "desk.eu")
        good = orjson.dumps({"symbol": "BTCUSDT", "at": T0 + 5_000})
        async with responding(nats_url, nats_subjects, service) as responder:
            refused = await ask(nats_url, subject, body)
            assert list(refused) == ["error"]
            assert said in refused["error"]
            assert "\n" not in refused["error"]
            answer = await ask(nats_url, subject, good)
            assert answer["account"] == "desk.eu" and answer["allowed"] is False
            assert responder.answered == 1

    with Journal.open(f"sqlite://{tmp_path / 'journal.db'}") as journal:
        service = FailingOn(journal)
        service.ingest([desk_eu("desk.eu")])
        asyncio.run(scenario(service))


def test_a_subject_that_names_no_account_is_told_so(
    tmp_path: Path, nats_url: str, nats_subjects: Subjects
) -> None:
    async def scenario(service: TrueupService) -> None:
        async with responding(nats_url, nats_subjects, service):
            # '~2E' written '~2e', and a '~' that escapes nothing: no name encodes so.
            for token in ("desk~2eeu", "~ZZ"):
                subject = f"{nats_subjects.prefix}.can-open.bybit.{token}"
                refused = await ask(nats_url, subject, b'{"symbol": "BTCUSDT"}')
                assert refused["error"].startswith("subject: "), refused
                assert token in refused["error"]
            with pytest.raises(Refused, match=r"^account \(from the subject\): must be text"):
                await can_open_over_nats(
                    nats_url, "bybit", "", "BTCUSDT", prefix=nats_subjects.prefix
                )

    with Journal.open(f"sqlite://{tmp_path / 'journal.db'}") as journal:
        asyncio.run(scenario(TrueupService(journal)))


# --- several responders, and NATS going away ------------------------------------------------


def test_of_two_responders_in_the_queue_group_exactly_one_answers_each_request(
    tmp_path: Path, nats_url: str, nats_subjects: Subjects
) -> None:
    requests = 40

    async def scenario(service: TrueupService) -> None:
        lock = threading.Lock()
        async with (
            responding(nats_url, nats_subjects, service, lock) as one,
            responding(nats_url, nats_subjects, service, lock) as other,
        ):
            client = await nats.connect(nats_url)
            try:
                # Every reply collected, not only the first a request() would take.
                inbox = client.new_inbox()
                replies: dict[int, list[Json]] = {n: [] for n in range(requests)}

                async def collect(message: Msg) -> None:
                    replies[int(message.subject.rsplit(".", 1)[1])].append(
                        orjson.loads(message.data)
                    )

                await client.subscribe(f"{inbox}.*", cb=collect)
                body = orjson.dumps({"symbol": "BTCUSDT", "at": T0 + 5_000})
                subject = nats_subjects.can_open("bybit", "desk.eu")
                for n in range(requests):
                    await client.publish(subject, body, reply=f"{inbox}.{n}")
                await client.flush()
                deadline = time.monotonic() + 20
                while sum(map(len, replies.values())) < requests:
                    assert time.monotonic() < deadline, "not every request was answered"
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)  # time for any second answer to arrive
            finally:
                await client.close()
            assert {n: len(answers) for n, answers in replies.items()} == dict.fromkeys(
                range(requests), 1
            )
            assert all(answers[0]["allowed"] is False for answers in replies.values())
            # Both took their share: the group spreads the requests.
            assert one.answered + other.answered == requests
            assert one.answered > 0 and other.answered > 0

    with Journal.open(f"sqlite://{tmp_path / 'journal.db'}") as journal:
        service = TrueupService(journal)
        service.ingest([desk_eu("desk.eu")])
        asyncio.run(scenario(service))


def test_the_responder_answers_again_once_nats_is_killed_and_started_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    subjects = Subjects("restart")

    async def asked(url: str) -> Json:
        return await can_open_over_nats(
            url, "bybit", "desk.eu", "BTCUSDT", at=T0 + 5_000, prefix=subjects.prefix
        )

    async def scenario(server: NatsServer, service: TrueupService) -> None:
        responder = CanOpenResponder(server.url, subjects, service, threading.Lock())
        await responder.start()
        try:
            before = await asked(server.url)
            server.kill()
            with pytest.raises(Unreachable):
                await asked(server.url)
            server.start()
            deadline = time.monotonic() + 20
            while True:
                try:
                    after = await asked(server.url)
                    break
                except Unreachable:  # not subscribed again yet
                    assert time.monotonic() < deadline, "no answer after NATS came back"
                    await asyncio.sleep(0.1)
            assert after == before
            assert not after["allowed"]
            server.kill()  # and a stop while NATS is away does not hang
        finally:
            stopping = time.monotonic()
            await responder.stop()
            assert time.monotonic() - stopping < 15

    caplog.set_level(logging.WARNING)
    with (
        Journal.open(f"sqlite://{tmp_path / 'journal.db'}") as journal,
        NatsServer() as server,
    ):
        service = TrueupService(journal)
        service.ingest([desk_eu("desk.eu")])
        asyncio.run(scenario(server, service))
    said = [record.getMessage() for record in caplog.records]
    # Said once each, for the operator; nothing at all from nats-py.
    assert sum(" is away:" in line for line in said) == 1, said
    assert sum(" is back:" in line for line in said) == 1, said
    assert len(said) == 2, said


def test_a_responder_started_before_nats_is_up_answers_once_it_is(tmp_path: Path) -> None:
    subjects = Subjects("late")

    async def scenario(server: NatsServer, service: TrueupService) -> None:
        responder = CanOpenResponder(server.url, subjects, service, threading.Lock())
        # start returns, NATS up or not: the worker has its own work to get on with.
        await asyncio.wait_for(responder.start(), 10)
        try:
            server.start()
            await asyncio.wait_for(responder.ready(), 20)
            answer = await can_open_over_nats(
                server.url, "bybit", "desk.eu", "ETHUSDT", at=T0 + 5_000, prefix=subjects.prefix
            )
            assert answer["allowed"] is True
        finally:
            await responder.stop()

    with (
        Journal.open(f"sqlite://{tmp_path / 'journal.db'}") as journal,
        NatsServer() as server,
    ):
        server.kill()
        service = TrueupService(journal)
        service.ingest([desk_eu("desk.eu")])
        asyncio.run(scenario(server, service))
