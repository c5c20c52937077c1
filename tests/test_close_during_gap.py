"""A position the exchange closes while nobody listens (the stream down, or ``trueup run``
restarting) is judged by the fill that closed it: the re-sync asks for the fills it missed
before the positions, so a close by hand is MANUAL (no cooldown) and a stop-loss still
STOP_LOSS, not both the rule for a close no fill explains (STOP_LOSS when no TP1 filled).
Through each venue's real client against its simulator (tests/venue_harness.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_harness import emitted, live_ingest, wait_for_emitted
from tests.venue_harness import HARNESSES, Case, VenueHarness, agree, opened, started
from trueup.domain.emitted import CooldownStarted, PositionClosed

# Each close, the exit reason it must show, and whether a cooldown follows.
CLOSES = {Case.MANUAL_CLOSE: ("MANUAL", False), Case.STOP_LOSS: ("STOP_LOSS", True)}
# The venues whose re-sync can ask for the fills it missed before the positions.
FILLS_FIRST = ("bybit", "hyperliquid", "aster")
# Stream back, first sync done: a loaded machine's supervisor may take a few attempts.
BACK_S = 30.0


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Iterator[VenueHarness]:
    with started(request.param) as venue:
        yield venue


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "live.db")


def closed_by(harness: VenueHarness, cause: Case) -> None:
    if cause is Case.MANUAL_CLOSE:
        harness.close_by_hand(harness.symbol)
    else:
        harness.fire(cause)


def said_of_the_long(store: str, harness: VenueHarness) -> tuple[list[str], list[str]]:
    """The exit reasons POSITION_CLOSED gave the long, and the cooldowns' reasons."""
    said = [e for e in emitted(store) if e.symbol == harness.symbol]
    closed = [e.exit_reason for e in said if isinstance(e, PositionClosed)]
    return closed, [e.reason for e in said if isinstance(e, CooldownStarted)]


@pytest.mark.parametrize(
    ("harness", "cause"),
    [
        (venue, cause)
        for venue in FILLS_FIRST
        for cause in CLOSES
        if cause is Case.MANUAL_CLOSE or cause not in HARNESSES[venue].cannot
    ],
    indirect=["harness"],
)
def test_a_close_while_trueup_run_restarts_is_judged_by_its_fill(
    harness: VenueHarness, cause: Case, store: str
) -> None:
    with live_ingest(store, harness.feed(), release=True) as live:
        harness.subscribed(BACK_S)
        live.put(opened(harness, "p-1", harness.symbol, harness.qty))
        harness.buy(harness.symbol, harness.qty)
        agree(harness, store)
        harness.arm(cause, store)
    closed_by(harness, cause)  # nobody listens: its frames go to no one
    with live_ingest(store, harness.feed(), release=True):
        harness.subscribed(BACK_S)
        wait_for_emitted(store, "POSITION_CLOSED", timeout=BACK_S)
        agree(harness, store)
    exit_reason, loss = CLOSES[cause]
    closed, cooldowns = said_of_the_long(store, harness)
    assert closed == [exit_reason]
    assert cooldowns == ([f"{exit_reason} on p-1"] if loss else [])


@pytest.mark.parametrize("harness", ["bybit"], indirect=True)
def test_a_close_by_hand_while_the_stream_is_down_is_manual_with_no_cooldown(
    harness: VenueHarness, store: str
) -> None:
    # No poll: only the re-sync after the reconnect asks the exchange (Bybit's stream
    # pushes the position, so none is needed before).
    with live_ingest(store, harness.feed(poll_interval_s=600)) as live:
        harness.subscribed(BACK_S)
        live.put(opened(harness, "p-1", harness.symbol, harness.qty))
        harness.buy(harness.symbol, harness.qty)
        agree(harness, store)
        harness.drop_stream()
        harness.close_by_hand(harness.symbol)  # pushed to no one
        wait_for_emitted(store, "POSITION_CLOSED", timeout=BACK_S)
        agree(harness, store)
    assert said_of_the_long(store, harness) == (["MANUAL"], [])
