"""What every venue's live feed must do, written once and played on each venue's simulator
through its real client (tests/venue_harness.py; docs/venues.md): connect and reconcile,
report a close by hand, rebuild a dropped stream, sign in again after refusals, sit out a
burst of rate limits, outlive a restart of the venue, and give each exchange close its exit
reason. A venue that cannot play a case is left out of it: its harness says why.

Each venue says a close's cause its own way, on its real wire: Bybit in an execution's
execType (BustTrade, AdlTrade), createType and stopOrderType; Hyperliquid in a fill's
`liquidation` object and `dir`, and in a trigger order's orderType, which only
frontendOpenOrders lists; Aster in an order update's client order id (autoclose-,
adl_autoclose) and execution type CALCULATED.
"""

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.live_harness import emitted, live_ingest, refused, wait_for, wait_for_emitted
from tests.venue_harness import (
    EXIT_CAUSES,
    HARNESSES,
    Case,
    RefusesAuth,
    VenueHarness,
    agree,
    journaled,
    opened,
    playing,
    started,
)
from trueup.adapters import venues
from trueup.adapters.store.journal import Journal
from trueup.adapters.supervised_feed import AUTH_REFUSALS
from trueup.domain.emitted import CooldownStarted, PositionClosed
from trueup.domain.events import InputRejected, PositionsReported, RejectionKind
from trueup.runners.live import LiveIngest

# Each exchange close, the exit reason it must show, and whether that is a loss (a cooldown
# follows).
EXIT_REASONS = {
    Case.LIQUIDATION: ("LIQUIDATION", True),
    Case.ADL: ("ADL", True),
    Case.TAKE_PROFIT: ("TAKE_PROFIT", False),
    Case.STOP_LOSS: ("STOP_LOSS", True),
}


def test_every_venue_trueup_reads_runs_this_suite() -> None:
    # A family (ccxt:<exchange-id>) reaches exchanges through one client, and has its own
    # stand-in exchange (test_live_ccxt.py): every other venue has a harness here.
    assert set(HARNESSES) == {v.name for v in venues.VENUES if v.members is None}


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Iterator[VenueHarness]:
    with started(request.param) as venue:
        yield venue


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "live.db")


def stored_types(store: str) -> list[str]:
    with Journal.open(store) as journal:
        return [e.type for _, e in journal.all_events()]


@pytest.mark.parametrize("harness", playing(Case.CONNECT), indirect=True)
def test_the_feed_connects_and_the_journal_reconciles_with_the_exchange(
    harness: VenueHarness, store: str
) -> None:
    harness.hold_short(harness.other, "2")  # held before the feed started
    with live_ingest(store, harness.feed()) as live:
        harness.subscribed()
        live.put(opened(harness, "p-1", harness.symbol, harness.qty))
        harness.buy(harness.symbol, harness.qty)
        agree(harness, store)
        (untracked,) = wait_for_emitted(store, "UNTRACKED_POSITION")
    assert journaled(store, harness) == {
        harness.symbol: Decimal(harness.qty),
        harness.other: Decimal(-2),
    }
    assert untracked.symbol == harness.other  # held, and none of the bot's
    assert "POSITION_CLOSED" not in {e.type for e in emitted(store)}


@pytest.mark.parametrize("harness", playing(Case.MANUAL_CLOSE), indirect=True)
def test_a_position_closed_by_hand_is_reported_closed_once_with_no_cooldown(
    harness: VenueHarness, store: str
) -> None:
    with live_ingest(store, harness.feed()) as live:
        harness.subscribed()
        live.put(opened(harness, "p-1", harness.symbol, harness.qty))
        harness.buy(harness.symbol, harness.qty)
        agree(harness, store)
        harness.close_by_hand(harness.symbol)
        wait_for_emitted(store, "POSITION_CLOSED")
        agree(harness, store)
    said = [e for e in emitted(store) if e.symbol == harness.symbol]
    closed = [e for e in said if isinstance(e, PositionClosed)]
    # Its closing order was none of the bot's, nor a TP/SL: closed by hand, no loss cooldown.
    assert [(e.position_id, e.exit_reason) for e in closed] == [("p-1", "MANUAL")]
    assert [e for e in said if isinstance(e, CooldownStarted)] == []
    assert journaled(store, harness) == {}


@pytest.mark.parametrize("harness", playing(Case.DROPPED_STREAM), indirect=True)
def test_a_dropped_stream_is_rebuilt_reported_and_resynced(
    harness: VenueHarness, store: str
) -> None:
    with live_ingest(store, harness.feed()):
        harness.subscribed()
        harness.drop_stream()
        harness.buy(harness.other, "2")  # while nobody listens: only the REST re-sync can tell
        (reconnect, *_) = wait_for_emitted(store, "WS_RECONNECT")
        agree(harness, store)
    assert journaled(store, harness) == {harness.other: Decimal(2)}
    reason = getattr(reconnect, "reason", "")
    assert any(cause in reason for cause in harness.dropped_reasons), reason
    said = [t for t in stored_types(store) if t.startswith("Stream")]
    assert said.index("StreamDown") < said.index("StreamReconnected")  # down, then back


# Hyperliquid is not here: its reads are public, no key to refuse (its harness's `cannot`).
@pytest.mark.parametrize("harness", playing(Case.REFUSED_AUTH), indirect=True)
def test_a_refused_sign_in_is_retried_until_it_passes(harness: VenueHarness, store: str) -> None:
    assert isinstance(harness, RefusesAuth)
    harness.refuse_auth(2)
    feed = harness.feed()
    with live_ingest(store, feed):
        harness.subscribed(timeout=15)
        harness.buy(harness.other, "3")
        agree(harness, store)
    assert harness.refused_auths() == 2
    assert feed.failure is None
    assert journaled(store, harness) == {harness.other: Decimal(3)}


@pytest.mark.parametrize("harness", playing(Case.REFUSED_AUTH), indirect=True)
def test_refusals_after_the_credentials_got_in_are_retried_however_many(
    harness: VenueHarness, store: str
) -> None:
    """Credentials the venue took once are not wrong: more refusals in a row than would stop
    a feed at its start (a walkthrough's run exited on three in 1.5 s, its account left
    unwatched) are the venue's hiccup, retried until they pass."""
    assert isinstance(harness, RefusesAuth)
    feed = harness.feed()
    with live_ingest(store, feed):
        harness.subscribed()
        # Its first sync done: the venue has taken the credentials on a signed request too.
        wait_for("a first sync", lambda: "PositionsReported" in stored_types(store))
        harness.refuse_auth(AUTH_REFUSALS + 1)
        harness.drop_stream()
        harness.buy(harness.other, "2")  # while nobody listens: only the REST re-sync can tell
        wait_for("every refusal", lambda: harness.refused_auths() == AUTH_REFUSALS + 1, 60)
        wait_for_emitted(store, "WS_RECONNECT", timeout=60)
        agree(harness, store)
        assert feed.failure is None
    assert journaled(store, harness) == {harness.other: Decimal(2)}


def holding_the_long(harness: VenueHarness, store: str, live: LiveIngest) -> None:
    """The bot's long opened, held on the exchange, and the journal agreeing."""
    harness.subscribed()
    live.put(opened(harness, "p-1", harness.symbol, harness.qty))
    harness.buy(harness.symbol, harness.qty)
    agree(harness, store)


@pytest.mark.parametrize("harness", playing(Case.RATE_LIMIT_BURST), indirect=True)
def test_a_burst_of_rate_limits_is_reported_quietly_and_closes_nothing(
    harness: VenueHarness, store: str
) -> None:
    # Polled often: a feed doubles its interval after each sync a refusal ends, and Aster's
    # meets the burst's five refusals one sync at a time (0.3 s doubled five times: 19 s).
    with live_ingest(store, harness.feed(poll_interval_s=0.1)) as live:
        holding_the_long(harness, store, live)
        burst = harness.rate_limit_burst()
        wait_for_emitted(store, "RATE_LIMIT")
        wait_for("every refusal", lambda: len(refused(store, RejectionKind.RATE_LIMITED)) >= burst)
        harness.buy(harness.other, "1")
        wait_for("a position snapshot after the burst", lambda: snapshot_after(store, limited))
        agree(harness, store)
    told = [e for e in emitted(store) if e.type == "RATE_LIMIT"]
    places = {e.endpoint for e in refused(store, RejectionKind.RATE_LIMITED)}
    # Quiet: told once per place asked, the rest held back for the window's end.
    assert 1 <= len(told) <= len(places)
    assert "POSITION_CLOSED" not in {e.type for e in emitted(store)}
    assert journaled(store, harness) == {
        harness.symbol: Decimal(harness.qty),
        harness.other: Decimal(1),
    }


@pytest.mark.parametrize("harness", playing(Case.UNREADABLE_REPLIES), indirect=True)
def test_a_reply_the_venues_client_cannot_read_is_kept_refused_and_polling_goes_on(
    harness: VenueHarness, store: str
) -> None:
    with live_ingest(store, harness.feed(poll_interval_s=0.1)) as live:
        holding_the_long(harness, store, live)
        odd = harness.unreadable_replies()
        wait_for("every odd reply kept", lambda: len(unreadable(store)) >= odd)
        harness.buy(harness.other, "1")  # seen only if the feed still polls or streams
        wait_for("a position snapshot after them", lambda: snapshot_after(store, unreadable))
        agree(harness, store)
        harness.drop_stream()  # and still supervises its stream
        wait_for_emitted(store, "WS_RECONNECT")
    assert "POSITION_CLOSED" not in {e.type for e in emitted(store)}


def unreadable(store: str) -> list[InputRejected]:
    """The REST replies stored refused."""
    with Journal.open(store) as journal:
        return [
            e
            for _, e in journal.all_events()
            if isinstance(e, InputRejected) and orjson.loads(e.raw).get("channel") == "rest"
        ]


def snapshot_after(store: str, of: Callable[[str], list[InputRejected]]) -> bool:
    """Whether a complete position snapshot was stored after the last of ``of``'s inputs."""
    last = of(store)
    with Journal.open(store) as journal:
        events = [e for _, e in journal.all_events()]
    ids = [i for i, e in enumerate(events) if last and e == last[-1]]
    return bool(ids) and any(
        isinstance(e, PositionsReported) and e.snapshot is not None for e in events[ids[-1] + 1 :]
    )


def limited(store: str) -> list[InputRejected]:
    """The replies stored refused as rate limited."""
    return refused(store, RejectionKind.RATE_LIMITED)


@pytest.mark.parametrize("harness", playing(Case.RESTART), indirect=True)
def test_a_venue_restart_ends_with_the_journal_in_step(harness: VenueHarness, store: str) -> None:
    with live_ingest(store, harness.feed()):
        harness.subscribed()
        harness.buy(harness.symbol, "1")
        agree(harness, store)
        harness.restart()
        harness.buy(harness.other, "3")
        (reconnect, *_) = wait_for_emitted(store, "WS_RECONNECT", timeout=30)
        agree(harness, store)
    assert journaled(store, harness) == {harness.symbol: Decimal(1), harness.other: Decimal(3)}
    # Why it was lost, not why the attempts made while the venue was away failed.
    reason = getattr(reconnect, "reason", "")
    assert any(cause in reason for cause in harness.dropped_reasons), reason


# Each venue with the exchange closes its simulator can play (Aster's takes no TP/SL).
EXIT_CASES = [(venue, cause) for cause in EXIT_CAUSES for venue in playing(cause)]


@pytest.mark.parametrize(("harness", "cause"), EXIT_CASES, indirect=["harness"])
def test_an_exchange_close_is_reported_once_with_its_cause_and_only_a_loss_cools_down(
    harness: VenueHarness, cause: Case, store: str
) -> None:
    # The feed's REST poll races the stream: one that reads the position flat before the
    # stream's fill came in leaves a close no fill explains yet, which waits for that fill
    # (close_cause_grace_ms, domain/rules/manual_close.py) and is judged by it.
    with live_ingest(store, harness.feed(poll_interval_s=0.3)) as live:
        harness.subscribed()
        live.put(opened(harness, "p-1", harness.symbol, harness.qty))
        harness.buy(harness.symbol, harness.qty)
        agree(harness, store)
        harness.close(cause, store)
        wait_for_emitted(store, "POSITION_CLOSED")
        agree(harness, store)
    exit_reason, loss = EXIT_REASONS[cause]
    said = [e for e in emitted(store) if e.symbol == harness.symbol]
    closed = [e for e in said if isinstance(e, PositionClosed)]
    assert [(e.position_id, e.exit_reason) for e in closed] == [("p-1", exit_reason)]
    cooldowns = [e for e in said if isinstance(e, CooldownStarted)]
    if loss:
        (cooldown,) = cooldowns
        assert said.index(cooldown) > said.index(closed[0])
        assert cooldown.reason == f"{exit_reason} on p-1"
    else:
        assert cooldowns == []
