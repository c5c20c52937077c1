"""``trueup.client`` against a real server: the CLI's answers, idempotent writes, the server's
errors as the client's own exceptions, and a stream that outlives a restart of the server."""

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tests.http_server import SAMPLE_END, TOKEN, closing_snapshot, running_server
from tests.inputs import line, opened
from tests.test_http_api import cli_json
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.client import ApiError, AsyncClient, CanOpen, Client, Event, Unreachable
from trueup.client.documents import Backoff
from trueup.runners.http_api import ApiSettings
from trueup.runners.http_stream import StreamSettings

SETTINGS = ApiSettings(token=TOKEN, stream=StreamSettings(heartbeat_s=0.5))
FAST = Backoff(first=0.05, most=0.5)


@pytest.fixture
def served(sampled: str) -> Iterator[str]:
    """A server over the sampled journal, its clock at the sample's end; its URL."""
    with (
        Journal.open(sampled, create=False) as journal,
        running_server(journal, SETTINGS, lambda: SAMPLE_END) as url,
    ):
        yield url


@pytest.fixture
def client(served: str) -> Iterator[Client]:
    with Client(served, token=TOKEN, backoff=FAST) as opened:
        yield opened


@pytest.mark.parametrize("symbol", ["ETHUSDT", "DOGEUSDT"])
def test_can_open_is_the_cli_s_answer(
    client: Client, sampled: str, capsys: pytest.CaptureFixture[str], symbol: str
) -> None:
    where = ["--venue", "bybit", "--account", "main", "--symbol", symbol]
    (expected,) = cli_json(capsys, sampled, "can-open", *where, "--at", str(SAMPLE_END))
    answer = client.can_open("bybit", "main", symbol, side="long", at=SAMPLE_END)
    assert answer == CanOpen(**expected)  # the whole document: venue, account, symbol too
    assert not answer.allowed  # the sample's exchange view is 70 s old by its end


def test_positions_are_the_servers_rows(
    client: Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert client.positions() == cli_json(capsys, sampled, "positions")
    (doge,) = client.positions(venue="bybit", symbol="DOGEUSDT")
    assert doge["exchange_qty"] == "1500"


def test_summary_history_and_ccxt_positions_are_the_clis(
    client: Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (summary,) = cli_json(capsys, sampled, "summary")
    assert client.summary() == summary
    assert client.history(symbol="ETHUSDT") == cli_json(
        capsys, sampled, "history", "--symbol", "ETHUSDT"
    )
    ccxt = client.positions(format="ccxt")
    assert {p["symbol"] for p in ccxt} == {"DOGE/USDT:USDT", "XRP/USDT:USDT"}


def test_send_intents_is_idempotent(client: Client) -> None:
    intent = opened(SAMPLE_END - 500, "p-sol-1", "SOLUSDT", "3")
    first = client.send_intents([intent, closing_snapshot(SAMPLE_END - 400)])
    again = client.send_intents([line(intent), closing_snapshot(SAMPLE_END - 400).decode()])
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (2, 2)
    assert again.inputs == first.inputs  # the same input ids: the same inputs, stored once
    assert first.emitted["POSITION_CLOSED"] == 1
    page = client.events(type="LocalPositionOpened")
    assert [e.data["input_id"] for e in page.events][-1] == first.inputs[0].input_id


# The sample's end, 19:48:55 UTC, as a bot in Tokyo holds it.
TOKYO = timezone(timedelta(hours=9))
SAMPLE_END_IN_TOKYO = datetime(2025, 11, 4, 4, 48, 55, tzinfo=TOKYO)
WITHOUT_ZONE = datetime(2025, 11, 3, 19, 48, 55)


def test_a_datetime_is_the_instant_it_names_and_one_without_a_zone_is_refused(
    client: Client,
) -> None:
    """A datetime without its zone would be read in the machine's own: refused, as the
    server and the CLI refuse an ISO 8601 instant without one."""
    assert SAMPLE_END_IN_TOKYO.timestamp() * 1000 == SAMPLE_END
    in_tokyo = client.can_open("bybit", "main", "ETHUSDT", at=SAMPLE_END_IN_TOKYO)
    assert in_tokyo == client.can_open("bybit", "main", "ETHUSDT", at=SAMPLE_END)
    with pytest.raises(ValueError, match=r"^at: 2025-11-03T19:48:55 has no time zone"):
        client.can_open("bybit", "main", "ETHUSDT", at=WITHOUT_ZONE)
    with pytest.raises(ValueError, match=r"^since: .* has no time zone"):
        client.history(since=WITHOUT_ZONE)


def test_one_intent_alone_is_sent_as_one(client: Client) -> None:
    intent = opened(SAMPLE_END - 500, "p-sol-1", "SOLUSDT", "3")
    alone = client.send_intents(intent)
    assert (alone.accepted, alone.rejected, len(alone.inputs)) == (1, 0, 1)
    assert client.send_intents([intent]).inputs == alone.inputs
    assert client.send_intents(line(intent).decode()).inputs == alone.inputs


def test_decimals_and_datetimes_in_an_intent_go_as_the_wire_spells_them(client: Client) -> None:
    """Decimals as strings, in full; instants as epoch ms: the same input as the bot that
    spells them so itself."""
    spelt = opened(SAMPLE_END - 500, "p-sol-1", "SOLUSDT", "1000")
    typed: dict[str, Any] = {
        **spelt,
        "at": datetime.fromtimestamp((SAMPLE_END - 500) / 1000, UTC),
        "data": {**spelt["data"], "qty": Decimal("1E+3")},
    }
    first = client.send_intents([typed])
    assert (first.accepted, first.duplicates) == (1, 0)
    assert client.send_intents([spelt]).inputs == first.inputs
    without_zone = {**typed, "at": WITHOUT_ZONE}
    with pytest.raises(ValueError, match=r"^intents\[1\]: .* has no time zone"):
        client.send_intents([spelt, without_zone])
    with pytest.raises(TypeError, match=r"^intents\[0\]: set is not a value"):
        client.send_intents([{**spelt, "tags": {"a"}}])


def test_triggers_are_commanded_and_refusals_said(client: Client) -> None:
    spec = {
        "operator": "bot", "trigger_id": "eth-stop", "symbol": "ETHUSDT", "direction": "long",
        "kind": "stop_loss", "level": Decimal("3800.5"), "ratio": "1", "action": "reduce",
    }  # fmt: skip
    added = client.command_trigger("bybit", "main", "add", **spec, at=SAMPLE_END)
    assert (added["trigger_id"], added["accepted"]) == ("eth-stop", True)
    again = client.command_trigger("bybit", "main", "add", **spec, at=SAMPLE_END + 1)
    assert (again["accepted"], again["refused"]) == (False, ["trigger eth-stop already exists"])


def test_the_server_s_errors_are_the_client_s_exceptions(served: str, client: Client) -> None:
    with pytest.raises(ApiError) as refused:
        client.can_open("bybit", "main", "ETHUSDT", side="sideways")
    assert refused.value.status == 422
    assert "query.side" in refused.value.message
    with Client(served, token="wrong") as stranger, pytest.raises(ApiError) as unauthorised:
        stranger.send_intents([closing_snapshot(SAMPLE_END)])
    assert unauthorised.value.status == 401
    assert "bearer token" in unauthorised.value.message
    with Client("http://127.0.0.1:1") as nowhere, pytest.raises(Unreachable) as unreachable:
        nowhere.positions()
    assert str(unreachable.value).startswith("no answer from http://127.0.0.1:1/v1/positions: ")


def test_the_token_comes_from_the_environment(served: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUEUP_API_TOKEN", TOKEN)
    monkeypatch.setenv("TRUEUP_API_URL", served)
    with Client() as client:
        assert client.send_intents([closing_snapshot(SAMPLE_END - 300)]).accepted == 1


def test_the_stream_survives_a_restart_of_the_server(sampled: str) -> None:
    """Events stored while the server is down arrive once it is back; none twice."""
    seen: queue.Queue[Event] = queue.Queue()
    with Journal.open(sampled, create=False) as journal:
        end = journal.last_position()
        with running_server(journal, SETTINGS, lambda: SAMPLE_END) as url:
            port = int(url.rpartition(":")[2])
            listener = Client(url, backoff=FAST, stream_read_timeout=5)
            listening = threading.Thread(
                target=_listen, args=(listener, end, seen), daemon=True, name="stream"
            )
            listening.start()
            Client(url, token=TOKEN).send_intents([closing_snapshot(SAMPLE_END - 900)])
            before = _until(seen, "COOLDOWN_STARTED")
        # The server is down: what another process stores meanwhile is not lost.
        with Journal.open(sampled, create=False) as elsewhere:
            down = TrueupService(elsewhere).ingest([[closing_snapshot(SAMPLE_END - 800)]])
        assert down.accepted == 1
        time.sleep(0.3)  # the client tries, and fails, to reconnect meanwhile
        with running_server(journal, SETTINGS, lambda: SAMPLE_END, port=port) as again:
            assert again == url
            Client(url, token=TOKEN).send_intents([closing_snapshot(SAMPLE_END - 700)])
            after = _until(seen, "PositionsReported", at=SAMPLE_END - 700)
            stored = [(p, e.type) for p, e in TrueupService(journal).events_after(end).events]
    listener.close()  # its stream ends: it would go on trying a server long gone
    listening.join(timeout=10)
    got = [(e.position, e.type) for e in before + after]
    assert got == stored  # every event after the cursor, each once, in order


def _listen(client: Client, after: int, seen: "queue.Queue[Event]") -> None:
    with contextlib.suppress(RuntimeError):  # "the client has been closed": the test ended
        for event in client.stream(after=after):
            seen.put(event)


def _until(seen: "queue.Queue[Event]", type_: str, *, at: int | None = None) -> list[Event]:
    got: list[Event] = []
    while not got or got[-1].type != type_ or (at is not None and got[-1].data["at"] != at):
        got.append(seen.get(timeout=20))
    return got


def test_the_async_client(served: str, sampled: str) -> None:
    async def use() -> tuple[CanOpen, list[Event]]:
        async with AsyncClient(served, token=TOKEN, backoff=FAST) as client:
            answer = await client.can_open("bybit", "main", "ETHUSDT", at=SAMPLE_END)
            page = await client.events(type="POSITION_CLOSED")
            streamed = []
            async for event in client.stream(after=0, type="POSITION_CLOSED"):
                streamed.append(event)
                if event.position == page.events[-1].position:
                    break
            assert streamed == page.events
            await client.send_intents([closing_snapshot(SAMPLE_END - 600)])
            async for event in client.stream(after=page.next_after, type="POSITION_CLOSED"):
                return answer, [event]
        raise AssertionError("the stream ended")

    answer, (closed,) = asyncio.run(use())
    assert not answer.allowed
    assert closed.data["symbol"] == "XRPUSDT"


def test_the_async_client_refuses_and_encodes_as_the_sync_one(served: str) -> None:
    spelt = opened(SAMPLE_END - 500, "p-sol-1", "SOLUSDT", "3")

    async def use() -> list[str]:
        async with AsyncClient(served, token=TOKEN) as client:
            with pytest.raises(ValueError, match=r"^at: .* has no time zone"):
                await client.can_open("bybit", "main", "ETHUSDT", at=WITHOUT_ZONE)
            with pytest.raises(ValueError, match=r"^since: .* has no time zone"):
                await client.history(since=WITHOUT_ZONE)
            typed = {**spelt, "data": {**spelt["data"], "qty": Decimal("3")}}
            alone = await client.send_intents(typed)
            assert (alone.accepted, alone.duplicates) == (1, 0)
            return [i.input_id for i in alone.inputs]

    ids = asyncio.run(use())
    with Client(served, token=TOKEN) as client:
        assert [i.input_id for i in client.send_intents(spelt).inputs] == ids
