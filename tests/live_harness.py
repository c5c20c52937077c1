"""Running live ingest in a test: a writer thread, and waiting on what it stores."""

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal

from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Feed
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputRejected, RejectionKind
from trueup.domain.rules.config import RuleConfig
from trueup.projections.reconciliation import replay
from trueup.runners.live import LiveIngest, resume_from_journal


@contextmanager
def live_ingest(
    store_url: str, feed: Feed, tick_ms: int = 200, *, release: bool = False
) -> Iterator[LiveIngest]:
    """Live ingest running in a thread; stopped, feed and all, on leaving, and with
    ``release`` its leases let go (while its journal is still open: letting go records
    what it had processed)."""
    with Journal.open(store_url) as journal:
        live = LiveIngest(journal, config=RuleConfig(), tick_ms=tick_ms)
        # As trueup run does: before its projection has caught up with what came meanwhile.
        resume_from_journal(journal, feed)
        stop = threading.Event()
        writer = threading.Thread(target=live.run, args=(stop,), daemon=True)
        writer.start()
        feed.start(live.put)
        try:
            yield live
        finally:
            feed.stop()
            stop.set()
            writer.join(timeout=20)
            assert not writer.is_alive(), "the writer did not stop"
            if release and live.projection is not None:
                live.projection.release()


def emitted(store_url: str) -> list[Emitted]:
    with Journal.open(store_url) as journal:
        return [e for _, e in journal.all_events() if isinstance(e, Emitted)]


def emitted_bytes(store_url: str) -> list[bytes]:
    """The emitted events as stored: what a replay must give again, byte for byte."""
    with Journal.open(store_url) as journal:
        return [codec.encode_emitted(e) for _, e in journal.all_events() if isinstance(e, Emitted)]


def exchange_sizes(store_url: str, venue: str, account: str) -> dict[str, Decimal]:
    """What the journal says the exchange holds, by symbol, signed (flat ones left out)."""
    with Journal.open(store_url) as journal:
        book = replay(journal).book(venue, account)
    return {k.symbol: p.exchange_qty for k, p in book.positions.items() if p.exchange_qty}


def refused(store_url: str, kind: RejectionKind) -> list[InputRejected]:
    with Journal.open(store_url) as journal:
        return [
            e for _, e in journal.all_events() if isinstance(e, InputRejected) and e.kind is kind
        ]


def opened(
    venue: str, account: str, position_id: str, symbol: str, qty: str, *, category: str
) -> dict[str, object]:
    """The bot's intent line: a LIVE long of ``qty`` opened on a one-way account."""
    return intent(
        venue,
        account,
        {
            "kind": "position_opened",
            "position_id": position_id,
            "category": category,
            "symbol": symbol,
            "position_idx": 0,
            "side": "Buy",
            "qty": qty,
            "mode": "LIVE",
        },
    )


def intent(venue: str, account: str, data: Mapping[str, object]) -> dict[str, object]:
    """The bot's intent line, received now."""
    line = {"at": wall_clock(), "venue": venue, "account": account, "channel": "intent"}
    return {**line, "data": dict(data)}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_for_emitted(store_url: str, kind: str, timeout: float = 15.0) -> list[Emitted]:
    found: list[Emitted] = []

    def check() -> bool:
        found[:] = [e for e in emitted(store_url) if e.type == kind]
        return bool(found)

    wait_for(kind, check, timeout)
    return found
