"""can-open says yes only when trueup can vouch for it: never for an account or venue it has
never seen, and never without a complete snapshot of the exchange's positions inside the
freshness limit at the instant asked."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import sessions
from tests.inputs import T0, intent, line, position_snapshot
from trueup.adapters import feed_status
from trueup.adapters.capture import decode_line
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.events import PositionsReported
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.can_open_facts import can_open
from trueup.domain.rules.config import RuleConfig

LIMIT_MS = RuleConfig().freshness_limit_ms


def fresh_account() -> list[bytes]:
    """A LIVE account whose exchange was just asked for every position: it holds nothing."""
    return [line(intent(T0, kind="account_mode", mode="LIVE")), line(position_snapshot(T0))]


def test_an_account_trueup_has_never_seen_is_a_no(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    service.ingest([fresh_account()])
    assert service.can_open("bybit", "main", "BTCUSDT").allowed
    answer = service.can_open("bybit", "mian", "BTCUSDT")  # a typo
    assert not answer.allowed
    assert answer.reasons == [
        "trueup has never seen this account: no input of it is in the journal"
    ]


def test_a_venue_trueup_does_not_read_is_a_no(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    service.ingest([fresh_account()])
    answer = service.can_open("bybt", "main", "BTCUSDT")
    assert not answer.allowed
    reads = "aster, bybit, hyperliquid, ccxt:<exchange-id>"
    assert f"trueup reads no venue 'bybt' (it reads {reads})" in answer.reasons
    # ccxt's venues are named by their exchange: "ccxt" alone is none.
    bare = service.can_open("ccxt", "main", "BTCUSDT").reasons
    assert any(reason.startswith("trueup reads no venue 'ccxt'") for reason in bare)
    known = service.can_open("ccxt:aster", "main", "BTCUSDT").reasons
    assert not any(reason.startswith("trueup reads no venue") for reason in known)


def test_an_exchange_view_older_than_the_limit_is_a_no(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    service.ingest([fresh_account()])
    assert service.can_open("bybit", "main", "BTCUSDT", at=T0 + LIMIT_MS).allowed
    late = service.can_open("bybit", "main", "BTCUSDT", at=T0 + LIMIT_MS + 1)
    assert not late.allowed
    assert late.reasons == [
        "the exchange view is 15.001 s old (last complete snapshot at "
        "2025-11-03T19:43:20.000Z); answers need one within 15 s"
    ]


def test_a_view_a_year_old_says_its_age_in_whole_seconds(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    service.ingest([fresh_account()])

    year_later = service.can_open("bybit", "main", "BTCUSDT", at=T0 + 34_057_439_266)

    assert year_later.reasons[0].startswith("the exchange view is 34057439.266 s old ")


def test_an_unfinished_pagination_vouches_for_nothing(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    first_page = position_snapshot(T0, next_cursor="page-2")
    service.ingest([[line(intent(T0, kind="account_mode", mode="LIVE")), line(first_page)]])
    answer = service.can_open("bybit", "main", "BTCUSDT")
    assert not answer.allowed
    assert answer.reasons[0].startswith("no complete snapshot of the exchange's positions")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(session=sessions(), delay=st.integers(0, 3 * LIMIT_MS))
def test_can_open_never_says_yes_without_a_complete_snapshot_inside_the_limit(
    session: list[bytes], delay: int
) -> None:
    reconciler = Reconciler()
    events = [decode_line(raw) for raw in session if raw.strip()]
    for event in events:
        reconciler.apply(event)
    last = max((e.at for e in events), default=T0)
    now = last + delay
    for (venue, account), book in reconciler.books.items():
        detectors = reconciler.detectors(venue, account)
        symbols = {key.symbol for key in book.positions} | {"NEWUSDT"}
        for symbol in symbols:
            verdict = can_open(book, detectors, symbol, now, config=reconciler.config)
            if not verdict.allowed:
                continue
            complete = book.complete_snapshot_at
            assert complete is not None and now - complete <= LIMIT_MS
            snapshots = [
                e
                for e in events
                if isinstance(e, PositionsReported)
                and (e.venue, e.account) == (venue, account)
                and e.snapshot is not None
                and now - e.at <= LIMIT_MS
            ]
            assert snapshots, "yes with no snapshot page of the account inside the limit"


def test_a_feed_that_is_down_is_a_no_until_its_stream_is_back(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    service.ingest([fresh_account()])
    down = feed_status.down(T0 + 500, "bybit", "main", stream="private", reason="stream closed")
    service.ingest([[line(down)]])
    answer = service.can_open("bybit", "main", "BTCUSDT")
    assert answer.reasons == [
        "the venue's stream is down since 2025-11-03T19:43:20.500Z (stream closed): fills and "
        "closes may go unseen until it is back"
    ]
    back = feed_status.reconnected(
        T0 + 800, "bybit", "main", stream="private", reason="stream closed", attempt=1
    )
    service.ingest([[line(back), line(position_snapshot(T0 + 900))]])
    assert service.can_open("bybit", "main", "BTCUSDT").allowed
