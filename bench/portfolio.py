"""The position manager's figures: `trueup summary` on 10,000 open positions, and what the
wallet fold and the risk rule cost the fold and the detectors.

Setup (not timed): a journal of 10 Bybit accounts, each with a wallet frame and 1,000
symbols held (one position frame each, in Bybit's documented format: mark, leverage,
liquidation price, margins), ingested through the real path with the projection on, so the
views are current. Timed: `trueup summary --json` and `trueup positions --format ccxt` as
the CLI runs them (the store opened, the views read, the document written); baseline: the
symbol views' rows selected, as the view reader reads them.
"""

import io
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout

import orjson

from bench.report import Figure, Target
from bench.timing import Stopwatch, rates, repeat
from trueup.adapters.bybit import messages
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.events import InputEvent
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.risk_warning import RiskWarningDetector
from trueup.runners.cli import main

ACCOUNTS = 10
START_MS = 1_762_199_126_030
SUMMARY_TARGET_S = 1.0  # a risk officer's refresh: the whole book in under a second


def portfolio_lines(positions: int) -> Iterator[bytes]:
    """A wallet frame per account, then one held position a line, accounts round-robin."""
    at = START_MS
    for n in range(ACCOUNTS):
        at += 1
        item = messages.wallet_item(
            total_equity="1000000", total_wallet_balance="990000", available="500000"
        )
        frame = messages.ws_frame("wallet", [item], message_id=f"w{n}", creation_time=at)
        yield orjson.dumps(messages.capture_ws(at, f"acct-{n}", frame))
    for n in range(positions):
        at += 1
        mark = 100 + n % 900
        item = messages.position_item(
            symbol=f"S{n // ACCOUNTS}USDT",
            side="Buy" if n % 3 else "Sell",
            size=str(1 + n % 50),
            seq=n + 1,
            updated_time=at,
            mark_price=str(mark),
            entry_price=str(mark),
            leverage=str(1 + n % 20),
            liq_price=str(mark * (0.5 if n % 3 else 1.5)),
            position_im="10",
            position_mm="1",
        )
        frame = messages.ws_frame("position", [item], message_id=f"p{n}", creation_time=at)
        yield orjson.dumps(messages.capture_ws(at, f"acct-{n % ACCOUNTS}", frame))


def fill(url: str, positions: int) -> None:
    with Journal.open(url) as journal:
        report = TrueupService(journal).ingest([portfolio_lines(positions)])
    if report.accepted != positions + ACCOUNTS:
        raise RuntimeError(f"stored {report.accepted} inputs, expected {positions + ACCOUNTS}")


def command_figures(url: str, positions: int, times: int) -> list[Figure]:
    baseline = repeat(lambda: time_select_views(url), times)
    return [
        Figure(
            f"summary --json: {positions:,} positions, {ACCOUNTS} accounts",
            "s",
            repeat(lambda: time_command(url, "summary", "--json"), times),
            baseline,
            Target(SUMMARY_TARGET_S, at_least=False),
        ),
        Figure(
            f"positions --format ccxt: {positions:,} positions",
            "s",
            repeat(lambda: time_command(url, "positions", "--format", "ccxt"), times),
            baseline,
            Target(SUMMARY_TARGET_S, at_least=False),
        ),
    ]


def time_command(url: str, *args: str) -> float:
    watch = Stopwatch()
    with redirect_stdout(io.StringIO()), watch.running():
        if main(["--store", url, *args]) != 0:
            raise RuntimeError(f"trueup {' '.join(args)} failed")
    return watch.seconds


def time_select_views(url: str) -> float:
    watch = Stopwatch()
    with Journal.open(url) as journal, watch.running():
        list(journal.views().symbols())
    return watch.seconds


def detector_figure(events: list[InputEvent], times: int, target: float) -> Figure:
    """The reconciler (the book and every detector) with the risk rule on, beside off."""
    count = len(events)
    with_risk = rates(count, repeat(lambda: time_reconcile(events), times))
    with risk_off():
        without = rates(count, repeat(lambda: time_reconcile(events), times))
    return Figure(
        f"reconcile {count:,} events: detectors, risk on (baseline: off)",
        "events/s",
        with_risk,
        without,
        Target(target, at_least=True),
    )


def time_reconcile(events: list[InputEvent]) -> float:
    watch = Stopwatch()
    reconciler = Reconciler()
    with watch.running():
        for event in events:
            reconciler.apply(event)
    return watch.seconds


@contextmanager
def risk_off() -> Iterator[None]:
    """The detectors without the risk rule, for this measurement alone."""
    on_key, on_input = RiskWarningDetector.on_key, RiskWarningDetector.on_input
    RiskWarningDetector.on_key = lambda *_: []  # type: ignore[method-assign]
    RiskWarningDetector.on_input = lambda *_: []  # type: ignore[method-assign]
    try:
        yield
    finally:
        RiskWarningDetector.on_key = on_key  # type: ignore[method-assign]
        RiskWarningDetector.on_input = on_input  # type: ignore[method-assign]
