"""can-open says yes only when trueup can vouch for it: never for an account or venue it has
never seen, nor for a symbol spelt as the venue spells none (ccxt's name for it, the wrong
case, a space), and never without a complete snapshot of the exchange's positions inside
the freshness limit at the instant asked."""

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import sessions
from tests.inputs import T0, intent, line, position_frame, position_snapshot
from trueup.adapters import feed_status
from trueup.adapters.capture import decode_line
from trueup.adapters.hyperliquid import messages as hl
from trueup.adapters.store.journal import Journal
from trueup.application.can_open import NOTHING_HELD, CanOpenFacts, judge_can_open
from trueup.application.service import TrueupService
from trueup.domain.coverage import Coverage, Vouched
from trueup.domain.events import PositionsReported
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.can_open import AccountFacts, SymbolFacts
from trueup.domain.rules.can_open_facts import can_open
from trueup.domain.rules.config import RuleConfig

LIMIT_MS = RuleConfig().freshness_limit_ms
# In the sample (`make sample`), bybit/main holds LONG 60 XRPUSDT as of then.
SAMPLE_HOLDING_XRP = 1_762_199_270_000
# An account whose exchange was just asked for every position of every category its
# venue's symbols can be of, as can-open weighs it.
FRESH = AccountFacts(
    0,
    None,
    snapshots=tuple(
        Vouched(Coverage(category, None, None, ()), T0)
        for category in ("inverse", "linear", "option", "perp", "spot")
    ),
)


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
        "trueup has never seen this account: the journal holds nothing from its exchange or its bot"
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


@pytest.mark.parametrize(
    ("symbol", "reason"),
    [
        ("XRP/USDT:USDT", "XRP/USDT:USDT is ccxt's name; bybit calls it XRPUSDT"),
        ("xrpusdt", "bybit's symbols are upper case: XRPUSDT?"),
        ("XRPUSDT ", "'XRPUSDT ' has space in it; bybit's symbols have none: XRPUSDT?"),
    ],
)
def test_a_held_symbol_spelt_another_way_is_a_no_naming_the_venues_spelling(
    sampled: str, symbol: str, reason: str
) -> None:
    # Said yes before: the account holds nothing under that name, but it holds XRPUSDT.
    with Journal.open(sampled, create=False) as journal:
        service = TrueupService(journal)
        held = service.can_open("bybit", "main", "XRPUSDT", at=SAMPLE_HOLDING_XRP)
        assert held.reasons[0].startswith("the exchange holds LONG 60 XRPUSDT")
        answer = service.can_open("bybit", "main", symbol, at=SAMPLE_HOLDING_XRP)
    assert not answer.allowed
    assert answer.symbol == symbol  # answered for the symbol asked, not another
    assert answer.reasons[0] == reason


@pytest.mark.parametrize(
    ("venue", "symbol", "reason"),
    [
        ("hyperliquid", "BTC/USDC:USDC", "BTC/USDC:USDC is ccxt's name; hyperliquid calls it BTC"),
        ("hyperliquid", " kPEPE", "' kPEPE' has space in it; hyperliquid's symbols have none: "
         "kPEPE?"),
        ("aster", "1000PEPE/USDT:USDT", "1000PEPE/USDT:USDT is ccxt's name; aster calls it "
         "1000PEPEUSDT"),
        ("aster", "btcusdt", "aster's symbols are upper case: BTCUSDT?"),
        ("ccxt:binanceusdm", "XRPUSDT", "'XRPUSDT' is not spelt as ccxt spells its symbols "
         "(unified, BASE/QUOTE:SETTLE like BTC/USDT:USDT): XRP/USDT:USDT?"),
        ("bybit", "", "no symbol was given: bybit's symbols are upper-case letters and digits, "
         "like BTCUSDT or BTC-30DEC25-50000-C"),
        # What only looks like a venue's letters or digits: Cyrillic, full-width, accented,
        # Arabic-Indic.
        ("bybit", "\N{CYRILLIC CAPITAL LETTER VE}TCUSDT",
         "'\N{CYRILLIC CAPITAL LETTER VE}TCUSDT' has characters bybit's symbols do not "
         "(\N{CYRILLIC CAPITAL LETTER VE} CYRILLIC CAPITAL LETTER VE): BTCUSDT?"),
        ("bybit", "\N{FULLWIDTH LATIN CAPITAL LETTER B}TCUSDT",
         "'\N{FULLWIDTH LATIN CAPITAL LETTER B}TCUSDT' has characters bybit's symbols do not "
         "(\N{FULLWIDTH LATIN CAPITAL LETTER B} FULLWIDTH LATIN CAPITAL LETTER B): BTCUSDT?"),
        ("aster", "\N{LATIN CAPITAL LETTER E WITH ACUTE}THUSDT",
         "'\N{LATIN CAPITAL LETTER E WITH ACUTE}THUSDT' has characters aster's symbols do not "
         "(\N{LATIN CAPITAL LETTER E WITH ACUTE} LATIN CAPITAL LETTER E WITH ACUTE): ETHUSDT?"),
        ("aster", "ETH\N{ARABIC-INDIC DIGIT THREE}USDT",
         "'ETH\N{ARABIC-INDIC DIGIT THREE}USDT' has characters aster's symbols do not "
         "(\N{ARABIC-INDIC DIGIT THREE} ARABIC-INDIC DIGIT THREE): ETH3USDT?"),
    ],
)  # fmt: skip
def test_each_venue_refuses_a_symbol_it_cannot_have_by_its_own_rule(
    journal: Journal, venue: str, symbol: str, reason: str
) -> None:
    facts = CanOpenFacts(venue, "main", symbol, FRESH, NOTHING_HELD)
    answer = judge_can_open(journal, facts, at=T0 + 1_000)
    assert (answer.allowed, answer.reasons) == (False, [reason])


@pytest.mark.parametrize(
    ("venue", "symbol"),
    [
        ("bybit", "1000PEPEUSDT"),
        ("bybit", "BTC-30DEC25-50000-C"),  # an option
        ("bybit", "XRP-27DEC24-0.5-C"),  # an option whose strike has decimals
        ("bybit", "BTCUSDT-26DEC25"),  # a dated future
        ("aster", "1000PEPEUSDT"),
        ("aster", "BTCUSDT_251226"),
        ("aster", "币安人生USDT"),  # a listing named in Chinese
        ("bybit", "币安人生USDT"),
        ("hyperliquid", "kPEPE"),  # case-sensitive: its k is a thousand
        ("hyperliquid", "@107"),  # a spot pair by its index
        ("hyperliquid", "PURR/USDC"),  # a spot pair by its name
        ("hyperliquid", "xyz:XYZ100"),  # a builder-deployed dex's perpetual
        ("ccxt:binanceusdm", "1000PEPE/USDT:USDT"),
        ("ccxt:okx", "BTC/USD:BTC-251226"),
    ],
)
def test_a_valid_symbol_never_seen_is_flat_on_every_venue(
    journal: Journal, venue: str, symbol: str
) -> None:
    facts = CanOpenFacts(venue, "main", symbol, FRESH, NOTHING_HELD)
    assert judge_can_open(journal, facts, at=T0 + 1_000).allowed


HL_USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


@pytest.mark.parametrize("asked", ["btc", "Btc"])
def test_a_symbol_held_on_a_venue_of_case_sensitive_names_is_a_no_in_another_case(
    journal: Journal, asked: str
) -> None:
    """Hyperliquid's kPEPE is not KPEPE, so "btc" fits its rule; but beside the BTC the
    account holds, it is a bot's lower-casing, and it was a yes (a walkthrough): now
    answered, from the views and by a replay of the past, as a trigger on it is refused."""
    short = hl.asset_position(coin="BTC", szi="-0.5", entry_px="100000.0")
    state = hl.clearinghouse_state([short], time=T0, account_value="1000.0")
    records = [
        hl.capture_intent(T0, HL_USER, {"kind": "account_mode", "mode": "LIVE"}),
        hl.capture_rest(T0, HL_USER, "clearinghouseState", {"user": HL_USER}, state),
    ]
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    service.ingest([[orjson.dumps(record) for record in records]])
    said = f"hyperliquid's symbols are case-sensitive: the account has BTC, not '{asked}'"
    for at in (None, T0 + 1):  # the views; a replay
        answer = service.can_open("hyperliquid", HL_USER, asked, at=at)
        assert (answer.allowed, answer.reasons[0]) == (False, said)
    assert service.can_open("hyperliquid", HL_USER, "ETH").allowed  # unheard of: flat
    command = {"command": "add", "trigger_id": "t1", "symbol": asked, "direction": "short",
               "kind": "stop_loss", "level": "110000", "ratio": "1", "action": "lock",
               "operator": "alice"}  # fmt: skip
    report = service.command_trigger("hyperliquid", HL_USER, command, at=T0 + 2)
    assert report.refused == [said]


def test_a_symbol_the_account_has_seen_is_judged_whatever_its_spelling(journal: Journal) -> None:
    # The venue's word beats the rule: a cooldown run out is all the account has of it.
    seen = SymbolFacts((), (), cooldown_until=T0)
    facts = CanOpenFacts("bybit", "main", "btcusdt", FRESH, seen)
    assert judge_can_open(journal, facts, at=T0 + 1_000).allowed


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


def test_a_snapshot_dated_after_the_instant_asked_by_more_than_the_limit_is_a_no(
    journal: Journal,
) -> None:
    """Dated by a clock that runs ahead, it would otherwise vouch for every instant until
    its date."""
    service = TrueupService(journal, clock=lambda: T0)
    ahead = T0 + 86_400_000  # a day
    mode = line(intent(T0, kind="account_mode", mode="LIVE"))
    service.ingest([[mode, line(position_snapshot(ahead))]])

    now = service.can_open("bybit", "main", "BTCUSDT")

    assert not now.allowed
    assert now.reasons == [
        "the last complete snapshot of the exchange's positions is dated "
        "2025-11-04T19:43:20.000Z, 86400 s (1 d 0 h) after the instant asked; answers need one "
        "within 15 s of it"
    ]
    assert service.can_open("bybit", "main", "BTCUSDT", at=ahead).allowed  # on its date


def test_a_clock_set_back_after_running_ahead_is_fresh_again_by_its_next_snapshot(
    journal: Journal,
) -> None:
    """The runner's machine ran a day ahead, then NTP set its clock back: the snapshot dated
    a day ahead stays the newest by date, but the next one, dated right, is what the
    exchange holds now. It must not take a day for can-open to say yes again."""
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    ahead = T0 + 86_400_000
    mode = line(intent(T0 - 1_000, kind="account_mode", mode="LIVE"))
    service.ingest([[mode, line(position_snapshot(ahead)), line(position_snapshot(T0))]])

    assert service.can_open("bybit", "main", "BTCUSDT").allowed
    (freshness,) = service.exchange_freshness()
    assert (freshness.complete_snapshot_at, freshness.stale_reasons) == (T0, [])
    assert [s.complete_snapshot_at for s in freshness.snapshots] == [T0]
    # A day on, the one dated ahead vouches for nothing: the one folded last is a day old.
    assert not service.can_open("bybit", "main", "BTCUSDT", at=ahead).allowed


def test_a_clock_set_back_by_less_than_the_limit_leaves_the_view_as_old_as_its_last_snapshot(
    journal: Journal,
) -> None:
    """The walkthrough's: the runner's clock ran 14 s ahead when it dated a snapshot, then NTP
    set it back and the next snapshot came dated right. The first one's date is no word on
    how fresh the view is now: 16 s after the second, the view is stale."""
    right = T0 + 1_000
    service = TrueupService(journal, clock=lambda: right + LIMIT_MS + 1_000)
    mode = line(intent(T0 - 1_000, kind="account_mode", mode="LIVE"))
    ahead = line(position_snapshot(T0 + 14_000))  # received at T0, by a clock 14 s ahead
    service.ingest([[mode, ahead, line(position_snapshot(right))]])

    answer = service.can_open("bybit", "main", "BTCUSDT")

    assert answer.reasons == [
        "the exchange view is 16 s old (last complete snapshot at 2025-11-03T19:43:21.000Z); "
        "answers need one within 15 s"
    ]


def test_a_view_a_year_old_says_its_age_in_whole_seconds_and_in_days(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    service.ingest([fresh_account()])

    year_later = service.can_open("bybit", "main", "BTCUSDT", at=T0 + 34_057_439_266)
    hours_later = service.can_open("bybit", "main", "BTCUSDT", at=T0 + 7_260_000)

    assert year_later.reasons[0].startswith("the exchange view is 34057439.266 s (394 d 4 h) old ")
    assert hours_later.reasons[0].startswith("the exchange view is 7260 s (2 h 1 min) old ")


def test_an_unfinished_pagination_vouches_for_nothing(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    first_page = position_snapshot(T0, next_cursor="page-2")
    service.ingest([[line(intent(T0, kind="account_mode", mode="LIVE")), line(first_page)]])
    answer = service.can_open("bybit", "main", "BTCUSDT")
    assert not answer.allowed
    assert answer.reasons[0].startswith("no complete snapshot of the exchange's positions")


def test_a_snapshot_of_several_pages_is_as_old_as_its_first_page(journal: Journal) -> None:
    """What page 1 shows is as old as page 1, however late the last page came."""
    service = TrueupService(journal, clock=lambda: T0 + LIMIT_MS + 2_000)
    mode = line(intent(T0 - 1_000, kind="account_mode", mode="LIVE"))
    first = line(position_snapshot(T0 + 1_000, next_cursor="c2"))
    last = line(position_snapshot(T0 + 10_000, cursor="c2"))
    service.ingest([[mode, first, last]])

    answer = service.can_open("bybit", "main", "BTCUSDT")

    assert answer.reasons == [
        "the exchange view is 16 s old (last complete snapshot at 2025-11-03T19:43:21.000Z); "
        "answers need one within 15 s"
    ]


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
            # The freshest of any scope's: a list folded last may be older than another.
            complete = max((v.at for v in book.vouched.values()), default=None)
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


def test_a_position_pushed_is_held_though_a_list_served_just_after_it_omits_it(
    journal: Journal,
) -> None:
    pushed = position_frame(
        T0 + 500, symbol="BTCUSDT", side="Buy", size="0.1", seq=7, updated_time=T0 + 500
    )
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    service.ingest([[*fresh_account(), line(pushed), line(position_snapshot(T0 + 650))]])
    assert service.can_open("bybit", "main", "BTCUSDT").reasons == [
        "the exchange holds LONG 0.1 BTCUSDT (idx 0, seq 7)"
    ]


def test_a_rebuilt_stream_is_a_no_until_a_snapshot_begun_after_it_is_complete(
    journal: Journal,
) -> None:
    # Whatever the stream missed while it was down (a position opened or closed by hand)
    # only a snapshot asked after it came back can show: the one before it is no proof.
    service = TrueupService(journal, clock=lambda: T0 + 3_000)
    service.ingest([fresh_account()])
    down = feed_status.down(T0 + 500, "bybit", "main", stream="private", reason="stream closed")
    back = feed_status.reconnected(
        T0 + 800, "bybit", "main", stream="private", reason="stream closed", attempt=1
    )
    # A run begun while the stream was down, ending after it came back, proves nothing.
    begun_before = position_snapshot(T0 + 700, next_cursor="page-2")
    ended_after = position_snapshot(T0 + 900, cursor="page-2")
    service.ingest([[line(down), line(begun_before), line(back), line(ended_after)]])

    answer = service.can_open("bybit", "main", "BTCUSDT")

    assert answer.reasons == [
        "the venue's stream was rebuilt at 2025-11-03T19:43:20.800Z (stream closed) and no "
        "complete snapshot of the exchange's positions has been taken since: what it missed "
        "is unknown"
    ]
    service.ingest([[line(position_snapshot(T0 + 1_000))]])
    assert service.can_open("bybit", "main", "BTCUSDT").allowed


@pytest.mark.parametrize(
    "left_down",
    [
        feed_status.down(T0 + 500, "bybit", "main", stream="private", reason="stream closed"),
        # Aster's own word that its stream ended, journaled as it came.
        feed_status.down(T0 + 500, "bybit", "main", stream="private", reason="listenKeyExpired"),
    ],
    ids=["down", "listen-key-expired"],
)
def test_a_stream_left_down_by_a_run_is_back_once_a_new_run_connects_and_re_syncs(
    journal: Journal, left_down: dict[str, object]
) -> None:
    # The run that said "down" was stopped before any reconnect: the next run's first
    # connection is no reconnect, but it is the stream up again.
    service = TrueupService(journal, clock=lambda: T0 + 60_500)
    service.ingest([fresh_account(), [line(left_down)]])
    up = feed_status.connected(T0 + 59_000, "bybit", "main", stream="private")
    # Its first sync, begun once the stream is up: nothing before it says what was missed.
    service.ingest([[line(up)]])

    answer = service.can_open("bybit", "main", "BTCUSDT")

    assert answer.reasons[-1] == (
        "the venue's stream was rebuilt at 2025-11-03T19:44:19.000Z (a new run connected it) "
        "and no complete snapshot of the exchange's positions has been taken since: what it "
        "missed is unknown"
    )
    assert not any("is down since" in reason for reason in answer.reasons)
    service.ingest([[line(position_snapshot(T0 + 60_000))]])
    assert service.can_open("bybit", "main", "BTCUSDT").allowed


def test_a_new_run_connected_is_no_reconnect_and_emits_nothing(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 1_000)
    service.ingest([fresh_account()])
    up = feed_status.connected(T0 + 500, "bybit", "main", stream="private")
    report = service.ingest([[line(up)]])
    assert (report.accepted, report.rejected, report.emitted) == (1, 0, {})
