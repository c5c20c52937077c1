"""The journal: every input stored once, read back unchanged, the same on SQLite and PostgreSQL.

Each test runs once per store (the ``journal`` and ``store_url`` fixtures in conftest.py).
"""

import threading
import uuid
from collections.abc import Sequence
from typing import Any, cast
from uuid import uuid5

import msgspec
import orjson
import pytest
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    StoredEvent,
    Tracking,
)

from trueup.adapters import rule_changes
from trueup.adapters.bybit import messages
from trueup.adapters.capture import decode_line
from trueup.adapters.store import journal as journal_module
from trueup.adapters.store import owner_table
from trueup.adapters.store.journal import (
    Appended,
    InputRow,
    Journal,
    emitted_key,
    marker_hex,
    marker_id,
)
from trueup.adapters.store.journal_format import ID_MARKERS, MARKERS_ROW
from trueup.adapters.store.location import StoreError
from trueup.domain.emitted import PositionClosed
from trueup.domain.events import InputEvent, InputRejected
from trueup.domain.keys import TRUEUP_NAMESPACE, input_id, minted_id
from trueup.domain.rules.config import RuleConfig

VENUE = "bybit"
MAIN = "main"
OTHER = "other"
START = 1_762_199_126_000


# --- inputs, built in Bybit's documented formats and decoded through the real path -----------


def decoded(record: dict[str, Any]) -> InputEvent:
    return decode_line(orjson.dumps(record))


def usable(record: dict[str, Any]) -> InputEvent:
    """A capture line that must decode into a domain event, not a rejection."""
    event = decoded(record)
    assert not isinstance(event, InputRejected), event
    return event


def position(
    at: int, symbol: str = "BTCUSDT", *, account: str = MAIN, size: str = "0.1"
) -> InputEvent:
    item = messages.position_item(
        symbol=symbol, side="Buy", size=size, seq=at, updated_time=at, entry_price="65000"
    )
    frame = messages.ws_frame("position", [item], message_id=f"pos-{at}", creation_time=at)
    return usable(messages.capture_ws(at, account, frame))


def order(at: int, symbol: str = "BTCUSDT") -> InputEvent:
    item = messages.order_item(
        symbol=symbol, order_id=f"o-{at}", side="Buy", qty="0.1", status="New", updated_time=at
    )
    frame = messages.ws_frame("order", [item], message_id=f"ord-{at}", creation_time=at)
    return usable(messages.capture_ws(at, MAIN, frame))


def execution(at: int, symbol: str = "BTCUSDT") -> InputEvent:
    item = messages.execution_item(
        symbol=symbol,
        exec_id=f"e-{at}",
        order_id=f"o-{at}",
        side="Buy",
        exec_price="65000.5",
        exec_qty="0.1",
        exec_time=at,
        seq=at,
    )
    frame = messages.ws_frame("execution", [item], message_id=f"exe-{at}", creation_time=at)
    return usable(messages.capture_ws(at, MAIN, frame))


def wallet(at: int) -> InputEvent:
    item = messages.wallet_item(total_equity="1000.5", total_wallet_balance="1000", available="900")
    frame = messages.ws_frame("wallet", [item], message_id=f"wal-{at}", creation_time=at)
    return usable(messages.capture_ws(at, MAIN, frame))


def snapshot(at: int, *symbols: str) -> InputEvent:
    """A REST position list: it speaks for every position of the account, listed or not."""
    items = [
        messages.position_item(
            symbol=s, side="Sell", size="2", seq=at, updated_time=at, entry_price="3000", rest=True
        )
        for s in symbols
    ]
    body = messages.rest_ok("linear", items, time=at)
    params = {"category": "linear", "settleCoin": "USDT"}
    return usable(messages.capture_rest(at, MAIN, "/v5/position/list", params, body))


def rate_limited(at: int) -> InputEvent:
    body = messages.rest_error(10006, "Too many visits!", time=at)
    params = {"category": "linear", "settleCoin": "USDT"}
    event = decoded(messages.capture_rest(at, MAIN, "/v5/position/list", params, body))
    assert isinstance(event, InputRejected)
    return event


def rejected_order_list(at: int) -> InputEvent:
    body = messages.rest_error(10006, "Too many visits!", time=at)
    params = {"category": "linear", "settleCoin": "USDT"}
    event = decoded(messages.capture_rest(at, MAIN, "/v5/order/realtime", params, body))
    assert isinstance(event, InputRejected)
    return event


def opened(at: int, symbol: str = "BTCUSDT") -> InputEvent:
    intent = {
        "kind": "position_opened",
        "position_id": f"p-{at}",
        "category": "linear",
        "symbol": symbol,
        "position_idx": 0,
        "side": "Buy",
        "qty": "0.1",
        "mode": "LIVE",
        "timeframe": "1h",
    }
    return usable(messages.capture_intent(at, MAIN, intent))


def closed(at: int, position_id: str) -> InputEvent:
    intent = {"kind": "position_closed", "position_id": position_id, "exit_reason": "TP2"}
    return usable(messages.capture_intent(at, MAIN, intent))


def account_mode(at: int) -> InputEvent:
    return usable(messages.capture_intent(at, MAIN, {"kind": "account_mode", "mode": "LIVE"}))


def positions(count: int, *, first: int = START, account: str = MAIN) -> list[InputEvent]:
    return [position(first + i, account=account) for i in range(count)]


def session() -> list[InputEvent]:
    """One account's inputs of every kind, in arrival order."""
    return [
        account_mode(START),
        opened(START + 1),
        position(START + 2),
        order(START + 3),
        execution(START + 4),
        wallet(START + 5),
        snapshot(START + 6, "BTCUSDT", "ETHUSDT"),
        rate_limited(START + 7),
        closed(START + 8, f"p-{START + 1}"),
    ]


def stored(journal: Journal, account: str = MAIN) -> list[InputEvent]:
    return list(journal.account_events(VENUE, account))


def in_global_order(journal: Journal) -> list[InputEvent]:
    """Every input in the order stored, through ``all_events``."""
    return [event for _, event in journal.all_events() if isinstance(event, InputEvent)]


def page_by_page(journal: Journal, after: int = 0, limit: int = 3) -> list[tuple[int, InputEvent]]:
    """Every input stored after ``after``, read through ``inputs`` a few rows at a time."""
    read: list[tuple[int, InputEvent]] = []
    while True:
        page, last = journal.inputs(after, limit=limit)
        if last == after:
            return read
        read += page
        after = last


# --- reading back ------------------------------------------------------------------------------


def test_an_accounts_events_read_back_in_arrival_order_exactly_as_appended(
    journal: Journal,
) -> None:
    events = session()

    assert journal.append(events) == Appended(stored=len(events), duplicates=0)

    assert stored(journal) == events


def test_inputs_read_back_globally_in_the_order_stored_with_rising_positions(
    journal: Journal,
) -> None:
    first, second = session(), positions(3, first=START + 100)
    journal.append(first)
    journal.append(second)

    listed = list(journal.all_events())
    paged = page_by_page(journal)

    assert [event for _, event in listed] == first + second
    assert paged == listed
    numbers = [number for number, _ in paged]
    assert numbers == sorted(set(numbers))
    assert journal.last_position() >= numbers[-1]


def test_reading_after_a_position_gives_only_what_was_stored_later(journal: Journal) -> None:
    earlier = positions(2)
    journal.append(earlier)
    mark = journal.last_position()
    later = positions(2, first=START + 100)
    journal.append(later)

    assert [event for _, event in journal.all_events(after=mark)] == later
    assert [event for _, event in page_by_page(journal, after=mark)] == later
    up_to_mark, last = journal.inputs(0, upto=mark)
    assert [event for _, event in up_to_mark] == earlier
    assert last == mark


def test_a_clock_tick_is_read_back_globally_but_belongs_to_no_account(journal: Journal) -> None:
    tick = decoded({"at": START + 50, "channel": "clock"})
    events = [position(START), tick, position(START + 100)]

    journal.append(events)

    assert in_global_order(journal) == events
    assert stored(journal) == [events[0], events[2]]


def test_an_empty_journal_reads_back_nothing(journal: Journal) -> None:
    assert stored(journal) == []
    assert in_global_order(journal) == []
    assert journal.inputs() == ([], 0)
    assert journal.last_position() == 0


# --- storing each input once ---------------------------------------------------------------------


def test_appending_the_same_inputs_again_stores_nothing_and_reports_them_as_duplicates(
    journal: Journal,
) -> None:
    events = session()
    journal.append(events)
    end = journal.last_position()

    again = journal.append(session())

    assert again == Appended(stored=0, duplicates=len(events))
    assert journal.last_position() == end
    assert stored(journal) == events
    assert in_global_order(journal) == events


def test_a_batch_mixing_new_and_stored_inputs_stores_only_the_new_ones_in_order(
    journal: Journal,
) -> None:
    old = positions(4)
    journal.append(old[:2])
    new = old[2:]

    mixed = journal.append([old[0], new[0], old[1], new[1]])

    assert mixed == Appended(stored=2, duplicates=2)
    assert stored(journal) == old
    assert in_global_order(journal) == old


def test_a_line_repeated_within_one_batch_is_stored_once(journal: Journal) -> None:
    first, second = positions(2)

    appended = journal.append([first, second, first, first])

    assert appended == Appended(stored=2, duplicates=2)
    assert stored(journal) == [first, second]


def test_the_same_line_decoded_twice_is_recognised_as_the_same_input(journal: Journal) -> None:
    journal.append([position(START)])

    assert journal.append([position(START)]) == Appended(stored=0, duplicates=1)
    assert journal.contains(position(START))
    assert not journal.contains(position(START + 1))


def test_each_account_keeps_its_own_stream(journal: Journal) -> None:
    main = positions(3)
    other = positions(2, first=START + 1000, account=OTHER)

    journal.append([main[0], other[0], main[1], other[1], main[2]])

    assert stored(journal, MAIN) == main
    assert stored(journal, OTHER) == other
    assert stored(journal, "nobody") == []
    assert list(journal.account_events("hyperliquid", MAIN)) == []


def test_reading_pages_through_more_events_than_one_page(journal: Journal) -> None:
    events = positions(journal_module.PAGE + 50)

    appended = journal.append(events)

    assert appended == Appended(stored=len(events), duplicates=0)
    assert stored(journal) == events
    assert in_global_order(journal) == events
    assert [event for _, event in page_by_page(journal, limit=journal_module.PAGE)] == events


# --- failures ------------------------------------------------------------------------------------


class UnstorableRow:
    """A recorder whose inserts carry, halfway through, a row the store cannot hold: its version
    is past the 64 bits every store keeps. Everything else goes to the real recorder."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder
        self.attempts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.recorder, name)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        self.attempts += 1
        rows = list(stored_events)
        middle = len(rows) // 2
        row = rows[middle]
        rows[middle] = StoredEvent(row.originator_id, 2**63, row.topic, row.state)
        return self.recorder.insert_events(rows, **kwargs)


def test_a_batch_that_fails_while_being_written_leaves_nothing_and_a_rerun_stores_it_all(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = positions(2)
    journal.append(before)
    end = journal.last_position()
    batch = positions(6, first=START + 100)
    broken = UnstorableRow(journal.recorder)
    monkeypatch.setattr(journal, "recorder", broken)

    # PostgreSQL's refusal is a StoreError of one line; SQLite's driver refuses it first.
    with pytest.raises((StoreError, OverflowError)):
        journal.append(batch)

    assert broken.attempts == 1
    monkeypatch.setattr(journal, "recorder", broken.recorder)
    assert journal.last_position() == end
    assert stored(journal) == before
    assert not any(journal.contains(event) for event in batch)

    assert journal.append(batch) == Appended(stored=len(batch), duplicates=0)
    assert stored(journal) == before + batch
    assert in_global_order(journal) == before + batch


# --- more than one journal on one store ---------------------------------------------------------


def test_a_reopened_journal_sees_earlier_events_and_appends_after_them(store_url: str) -> None:
    first, second = positions(3), positions(2, first=START + 100)
    with Journal.open(store_url) as journal:
        journal.append(first)

    with Journal.open(store_url) as reopened:
        assert stored(reopened) == first
        assert reopened.append(first + second) == Appended(stored=2, duplicates=3)

    with Journal.open(store_url) as again:
        assert stored(again) == first + second
        assert in_global_order(again) == first + second


def test_an_input_of_many_megabytes_is_stored_and_read_back(store_url: str) -> None:
    """A hostile or broken feed's line of 16 MB (a field trueup does not read) is stored like
    any other: on PostgreSQL, psycopg's pipeline mode once left such a transaction waiting
    for ever, holding the lock every other writer waits on."""
    item = messages.position_item(
        symbol="ETHUSDT", side="Buy", size="1", seq=1, updated_time=START, entry_price="100"
    )
    padded = {**item, "pad": "y" * (16 << 20)}  # a field trueup does not read
    frame = messages.ws_frame("position", [padded], message_id="huge", creation_time=START)
    huge = usable(messages.capture_ws(START, MAIN, frame))
    done: list[Appended] = []

    def append() -> None:
        with Journal.open(store_url) as journal:
            done.append(journal.append([huge]))

    worker = threading.Thread(target=append, daemon=True)
    worker.start()
    worker.join(60)
    assert done == [Appended(stored=1, duplicates=0)]
    with Journal.open(store_url) as journal:
        assert stored(journal) == [huge]


def test_two_journals_on_one_store_take_turns_without_losing_or_repeating_inputs(
    store_url: str,
) -> None:
    events = positions(6)
    with Journal.open(store_url) as one, Journal.open(store_url) as two:
        one.append(events[0:2])
        two.append(events[2:4])
        # ``one`` last saw the stream end at version 2; it must notice ``two`` wrote since.
        assert one.append(events[4:6] + events[2:3]) == Appended(stored=2, duplicates=1)

        assert stored(one) == events
        assert stored(two) == events


def test_a_writer_whose_stream_head_went_stale_retries_at_once_without_pausing(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An executor writes one record among a live writer's many: its cached head is always
    stale, and a pause meant for racing writers would delay every record it writes."""
    pauses: list[float] = []
    monkeypatch.setattr("trueup.adapters.store.journal.time.sleep", pauses.append)
    events = positions(3)
    with Journal.open(store_url) as rare, Journal.open(store_url) as busy:
        rare.append(events[0:1])
        busy.append(events[1:2])
        assert rare.append(events[2:3]) == Appended(stored=1, duplicates=0)
        assert stored(rare) == events
    assert pauses == []


# --- one symbol's events --------------------------------------------------------------------------


def test_a_symbols_events_include_everything_that_can_touch_it_and_no_other_symbols_frames(
    journal: Journal,
) -> None:
    btc_opened = opened(START + 1)
    btc_and_eth = usable(
        messages.capture_ws(
            START + 9,
            MAIN,
            messages.ws_frame(
                "position",
                [
                    messages.position_item(
                        symbol=s, side="Buy", size="1", seq=START + 9, updated_time=START + 9
                    )
                    for s in ("ETHUSDT", "BTCUSDT")
                ],
                message_id="pos-both",
                creation_time=START + 9,
            ),
        )
    )
    touching = {
        "mode": account_mode(START),
        "opened": btc_opened,
        "position": position(START + 2),
        "order": order(START + 3),
        "execution": execution(START + 4),
        "empty snapshot": snapshot(START + 5),
        "snapshot of another symbol": snapshot(START + 6, "ETHUSDT"),
        "closed": closed(START + 7, f"p-{START + 1}"),
        "frame of both": btc_and_eth,
        # A refused snapshot page breaks the run it was in, whichever positions it listed.
        "refused snapshot page": rate_limited(START + 8),
        # The account's equity weighs every held position's concentration (domain/risk.py).
        "wallet": wallet(START + 24),
    }
    elsewhere = {
        "eth position": position(START + 20, "ETHUSDT"),
        "eth order": order(START + 21, "ETHUSDT"),
        "eth execution": execution(START + 22, "ETHUSDT"),
        "eth opened": opened(START + 23, "ETHUSDT"),
        "rejected": rejected_order_list(START + 25),
        "other account": position(START + 26, account=OTHER),
    }
    journal.append(sorted([*touching.values(), *elsewhere.values()], key=lambda e: e.at))

    btc = list(journal.account_events(VENUE, MAIN, symbol="BTCUSDT"))

    assert btc == sorted(touching.values(), key=lambda e: e.at)
    eth = list(journal.account_events(VENUE, MAIN, symbol="ETHUSDT"))
    assert btc_and_eth in eth
    assert position(START + 2) not in eth


def test_minted_ids_are_uuid5_in_trueups_namespace() -> None:
    # Fixed forever: stored inputs and emitted events are keyed by these ids.
    for name in ("input:{}", "emitted:POSITION_CLOSED:('bybit',)", "ünïcode"):
        assert minted_id(name.encode()) == str(uuid5(TRUEUP_NAMESPACE, name))
    for line in (b"{}", b'{"at":1}', "ünïcode".encode()):
        assert input_id(line) == str(uuid5(TRUEUP_NAMESPACE, "input:" + line.decode()))


def test_a_marker_key_as_text_is_its_uuid_s_hex_keyed_by_time_or_not() -> None:
    # SQLite is handed the text; PostgreSQL the UUID: one journal, one key, either way.
    (one,) = positions(1)
    odd_times = [msgspec.structs.replace(one, at=at) for at in (0, -1, 1 << 48)]
    for event in (*positions(3), *odd_times):
        for timed in (True, False):
            assert marker_hex(event, timed=timed) == marker_id(event, timed=timed).hex


@pytest.mark.parametrize("markers", ["keyed by time", "keyed by id, as before format 4"])
def test_the_inputs_of_a_span_are_known_by_their_keys_as_what_they_caused_names_them(
    journal: Journal, markers: str
) -> None:
    """An input's key, read from the rows beside it, is the one its id and receive time
    give: what an input caused (an emitted event's cause and at) tells whether it was one
    of a span, without a single input of it read."""
    if markers != "keyed by time":
        journal.recorder.insert_tracking(Tracking(MARKERS_ROW, ID_MARKERS))
    before, span, after = positions(2), positions(5)[2:], positions(8)[5:]
    journal.append(before)
    start = journal.last_position()
    journal.append(span)
    end = journal.last_position()
    journal.append(after)

    keys = journal.input_keys(start, end)

    assert keys == {journal.input_key(e.input_id, e.at) for e in span}
    assert not keys & {journal.input_key(e.input_id, e.at) for e in (*before, *after)}
    caused = msgspec.structs.replace(stop_loss(span[1].at, "p-0"), cause=span[1].input_id)
    assert journal.input_key(caused.cause, caused.at) in keys


def test_the_inputs_of_every_account_after_any_position_are_found_as_stored(
    journal: Journal,
) -> None:
    """A tick naming no account, and the rules put in force, are every account's: the audit
    reads those stored after a position (while a close awaits its cause), found by halving
    their streams, not read from their first."""
    ticks = [usable({"at": START + 10 * i, "channel": "clock"}) for i in range(40)]
    ticks[20] = usable(rule_changes.record(START + 200, RuleConfig(), "rules.toml"))  # theirs too
    accounts = positions(40, first=START + 5)
    journal.append(ticks[:3])  # some before any account's input
    for step in range(3, 40, 7):  # then the two interleaved, in batches of every shape
        journal.append([*accounts[step - 3 : step], *ticks[step : step + 7], accounts[step]])
    stored = [(where, e) for where, e in journal.all_events() if isinstance(e, InputEvent)]
    every = [(where, e) for where, e in stored if not e.venue]
    assert [e for _, e in every] == ticks
    for after in (0, *(where for where, _ in stored), stored[-1][0] + 1):
        assert list(journal.inputs_of_every_account(after)) == [
            (where, e) for where, e in every if where > after
        ]


def stop_loss(at: int, position_id: str) -> PositionClosed:
    return PositionClosed(
        venue="bybit", account="main", at=at, cause=f"input-{at}", category="linear",
        symbol="BTCUSDT", position_idx=0, position_id=position_id, exit_reason="STOP_LOSS",
    )  # fmt: skip


def test_emitted_events_are_keyed_in_the_order_of_their_times_and_read_back_whole(
    journal: Journal,
) -> None:
    # Keyed by time, a step's events go in at the end of the primary key, not all over it.
    first, later = 1_762_000_000_000, 1_762_000_000_001
    events = [stop_loss(first, "p-0"), stop_loss(later, "p-1"), stop_loss(later, "p-other")]
    keys = [emitted_key(e) for e in events]
    assert keys[0] < keys[1] and keys[0] < keys[2]
    for key, event in zip(keys, events, strict=True):
        assert key.bytes[6:] == uuid.UUID(event.event_id).bytes[:10]
    assert emitted_key(stop_loss(first, "p-0")) == keys[0]  # the same event, one key

    journal.record(events, {"reconciler.00": 1})
    found, _ = journal.emitted_after(0)
    assert [e for _, e in found] == events
    assert [e.event_id for _, e in found] == [e.event_id for e in events]


def test_an_emitted_event_recorded_twice_clashes_with_itself(journal: Journal) -> None:
    # What tells a projection that another process has recorded its step (a lost lease).
    journal.record([stop_loss(1_762_000_000_000, "p-1")], {"reconciler.00": 1})
    with pytest.raises(IntegrityError):
        journal.record([stop_loss(1_762_000_000_000, "p-1")], {"reconciler.01": 2})


def test_kept_snapshots_are_found_by_the_start_of_their_tracker_s_name(store_url: str) -> None:
    with Journal.open(store_url) as journal:
        for tracker in ("loop.notifier.default", "loop.executor.bybit.main", "partition.03"):
            journal.save_snapshot(tracker, 0, b"{}")
        assert journal.snapshot_trackers("loop.") == [
            "loop.executor.bybit.main",
            "loop.notifier.default",
        ]
        assert journal.snapshot_trackers("loop.x") == []
        assert journal.snapshot_trackers("") == [
            "loop.executor.bybit.main",
            "loop.notifier.default",
            "partition.03",
        ]


def test_a_snapshot_saved_unless_later_never_replaces_a_later_one(journal: Journal) -> None:
    # A holder that let its leases go saves after whoever took them over may have: the later
    # snapshot stays. Its own saves, while it holds them, replace whatever was kept.
    journal.save_snapshot("partition.03", 500, b"taken over")
    journal.save_snapshot("partition.03", 400, b"let go", unless_later=True)
    assert journal.load_snapshot("partition.03") == (500, b"taken over")
    journal.save_snapshot("partition.03", 500, b"let go at the same place", unless_later=True)
    assert journal.load_snapshot("partition.03") == (500, b"let go at the same place")
    journal.save_snapshot("partition.04", 400, b"first", unless_later=True)
    assert journal.load_snapshot("partition.04") == (400, b"first")
    journal.save_snapshot("partition.03", 300, b"held")
    assert journal.load_snapshot("partition.03") == (300, b"held")


def test_an_appends_rows_are_stored_byte_for_byte_at_positions_in_their_order(
    store_url: str,
) -> None:
    # On PostgreSQL the rows go as one array per column (column_arrays.py), in binary: no
    # byte is quoted, and the positions come back in the order the rows were given. An
    # append's input rows (InputRow) go in beside the library's own, as the same rows.
    every_byte = bytes(range(256))
    streams = [uuid5(TRUEUP_NAMESPACE, f"stream {n}") for n in range(3)]
    kinds = (StoredEvent, InputRow)
    rows = [
        kinds[i % 2](streams[i % 3], i // 3 + 1, f'trueup.test "{i}" é\\', every_byte + b"%d" % i)
        for i in range(300)
    ]
    owners = [(every_byte + b"%d" % i, i, b"\x00'\"\\,{}" * i) for i in range(50)]
    with Journal.open(store_url) as journal:
        positions = journal.recorder.insert_events(cast("list[StoredEvent]", rows), owners=owners)
        assert positions is not None and list(positions) == sorted(set(positions))
        stored = journal.recorder.select_notifications(positions[0], len(rows) + 1)
        assert [n.id for n in stored] == list(positions)
        assert [
            (uuid.UUID(str(n.originator_id)), n.originator_version, n.topic, n.state)
            for n in stored
        ] == [(r.originator_id, r.originator_version, r.topic, r.state) for r in rows]
        read = owner_table.owner_reader(journal.recorder)
        assert read([key for key, _, _ in owners]) == sorted((k, v) for k, _, v in owners)


def test_an_append_another_writer_cut_in_two_still_says_where_its_last_input_went(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a large batch goes in several transactions, and another writer's (a
    detector process recording) may come between them: no unbroken span then, but the last
    input's position is what an ingest waits for the projection to reach. Taken from the
    first span alone, the wait ended early and the ingest printed too few emitted events."""
    monkeypatch.setattr(Journal, "transaction_bytes", property(lambda _: 1))  # one each
    with Journal.open(store_url) as journal, Journal.open(store_url) as other:
        append_chunk = journal._append_chunk

        def cut_in(*args: Any) -> Any:
            done = append_chunk(*args)
            other.append(positions(1, first=START + 50_000, account="other"))
            return done

        monkeypatch.setattr(journal, "_append_chunk", cut_in)
        batch = positions(3)
        appended = journal.append(batch)

        assert (appended.stored, appended.inputs) == (3, ())  # no one span
        where = {e.input_id: p for p, e in journal.all_events() if isinstance(e, InputEvent)}
        assert appended.last_input == where[batch[-1].input_id]
