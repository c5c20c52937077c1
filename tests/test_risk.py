"""Risk per position and for the portfolio: the score on hand-worked cases (weights 0.4, 0.3,
0.3; leverage / 10 capped at 1; 1 - 10 x distance floored at 0; 0.1 without a liquidation
price; capped at 1), the weights as rules, and RISK_WARNING once per crossing."""

import dataclasses
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from tests.inputs import ACCOUNT, T0, accepted, position_frame
from trueup.adapters import rule_changes
from trueup.adapters.bybit import messages
from trueup.domain.coin_values import equity_rate
from trueup.domain.emitted import Emitted, RiskWarning
from trueup.domain.errors import MalformedInput
from trueup.domain.events import PositionReport, RulesSet
from trueup.domain.reconciler import Reconciler
from trueup.domain.risk import assess, portfolio, position_risk
from trueup.domain.risk_records import LeverageSource, PositionRisk
from trueup.domain.rules.config import RuleConfig, rule_config
from trueup.domain.vocabulary import ContractKind, PositionSide

RULES = RuleConfig()


def report(
    *,
    size: str = "1",
    mark: str | None = "100",
    leverage: str | None = None,
    liq: str | None = None,
    margin: str | None = None,
    side: PositionSide = PositionSide.LONG,
) -> PositionReport:
    def d(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    return PositionReport(
        category="linear",
        symbol="BTCUSDT",
        position_idx=0,
        side=side,
        size=Decimal(size),
        entry_price=Decimal(100),
        mark_price=d(mark),
        unrealised_pnl=None,
        cum_realised_pnl=None,
        seq=1,
        updated_time=T0,
        status="Normal",
        liq_price=d(liq),
        leverage=d(leverage),
        initial_margin=d(margin),
    )


def risk_of(equity: str | None, config: RuleConfig = RULES, **fields: Any) -> PositionRisk:
    found = assess(report(**fields), None, None if equity is None else Decimal(equity), config)
    assert found is not None
    return found


# --- the score, worked by hand --------------------------------------------------------------


def test_every_part_halfway_scores_one_half() -> None:
    # notional 50 x 100 = 5000 of equity 10000: 0.5; leverage 5 / 10: 0.5; mark 100, liq 95:
    # 0.05 from liquidation, 1 - 10 x 0.05 = 0.5. 0.4 x 0.5 + 0.3 x 0.5 + 0.3 x 0.5 = 0.5.
    risk = risk_of("10000", size="50", leverage="5", liq="95")
    assert (risk.notional, risk.concentration, risk.leverage) == (
        Decimal(5000),
        Decimal("0.5"),
        Decimal(5),
    )
    assert risk.liquidation_distance == Decimal("0.05")
    assert (risk.concentration_part, risk.leverage_part, risk.liquidation_part) == (
        Decimal("0.5"),
        Decimal("0.5"),
        Decimal("0.5"),
    )
    assert risk.score == Decimal("0.5")
    assert (risk.high, risk.near_liquidation) == (False, True)


def test_no_liquidation_price_counts_a_tenth() -> None:
    # 0.4 x 0.2 + 0.3 x 0.2 + 0.3 x 0.1 = 0.08 + 0.06 + 0.03.
    risk = risk_of("10000", size="20", leverage="2")
    assert (risk.liq_price, risk.liquidation_distance) == (None, None)
    assert risk.liquidation_part == Decimal("0.1")
    assert risk.score == Decimal("0.17")
    assert not risk.near_liquidation


def test_each_part_is_capped_at_one_and_the_liquidation_part_floored_at_zero() -> None:
    # 3x the equity, 25x leverage: both parts full; 0.5 from liquidation: 1 - 5, floored.
    risk = risk_of("100", size="3", leverage="25", liq="50")
    assert (risk.concentration, risk.concentration_part) == (Decimal(3), Decimal(1))
    assert (risk.leverage_part, risk.liquidation_part) == (Decimal(1), Decimal(0))
    assert risk.score == Decimal("0.7")
    assert risk.high  # 0.7 reaches the default risk_warning_score


def test_a_short_near_liquidation_scores_near_one_and_the_score_is_capped_at_one() -> None:
    # Short at mark 100, liquidated at 101: 0.01 away, part 0.9; 0.4 + 0.3 + 0.27.
    risk = risk_of("100", size="2", leverage="20", liq="101", side=PositionSide.SHORT)
    assert risk.liquidation_distance == Decimal("0.01")
    assert risk.score == Decimal("0.97")
    heavy = RuleConfig(
        risk_weight_concentration=Decimal(1),
        risk_weight_leverage=Decimal(1),
        risk_weight_liquidation=Decimal(1),
    )
    assert risk_of("100", heavy, size="2", leverage="20", liq="101").score == 1


def test_leverage_is_the_venues_else_notional_over_initial_margin() -> None:
    venue = risk_of("10000", size="10", leverage="3", margin="500")
    assert (venue.leverage, venue.leverage_source) == (Decimal(3), LeverageSource.VENUE)
    derived = risk_of("10000", size="10", margin="250")  # notional 1000 / 250
    assert (derived.leverage, derived.leverage_source) == (Decimal(4), LeverageSource.MARGIN)
    unknown = risk_of("10000", size="10")
    assert (unknown.leverage, unknown.leverage_source, unknown.leverage_part) == (
        None,
        None,
        Decimal(0),
    )


def test_without_an_equity_the_concentration_is_unknown_and_counts_nothing() -> None:
    risk = risk_of(None, size="10", leverage="10")
    assert (risk.concentration, risk.concentration_part) == (None, Decimal(0))
    assert risk.score == Decimal("0.33")


@pytest.mark.parametrize("equity", ["0", "-100"])
def test_an_account_with_no_equity_left_is_as_concentrated_as_can_be(equity: str) -> None:
    """An underwater account scores no lower than one with a sliver of equity left."""
    near: dict[str, Any] = {"size": "10", "leverage": "20", "liq": "99.9"}
    sliver, underwater = risk_of("1", RULES, **near), risk_of(equity, RULES, **near)
    assert underwater.concentration == 1
    assert underwater.score == sliver.score
    assert underwater.high


def test_a_notional_and_an_equity_in_one_coin_need_no_usd_value() -> None:
    """USDC against USDC, under rules that give USDC no USD value: concentration known."""
    usd_only = rule_config({"quote_equivalents": {"USD": 1, "USDT": 1}})
    assert equity_rate("USDC", "USDC", usd_only) == 1
    assert equity_rate("USDC", "USD", usd_only) is None


def test_an_inverse_contracts_size_is_its_notional_already() -> None:
    inverse = msgspec.structs.replace(
        report(size="300", mark="28000", leverage="10"), contract_kind=ContractKind.INVERSE
    )
    found = assess(inverse, None, Decimal(3000), RULES)
    assert found is not None and (found.notional, found.concentration) == (
        Decimal(300),
        Decimal("0.1"),
    )


def test_a_flat_position_has_no_risk_and_the_ledgers_mark_stands_in_for_a_missing_one() -> None:
    flat = report(size="0", side=PositionSide.FLAT)
    assert assess(flat, None, Decimal(100), RULES) is None
    marked = assess(report(size="2", mark=None), Decimal(150), Decimal(1000), RULES)
    assert marked is not None and marked.notional == 300


def test_the_weights_are_rules_with_documented_defaults_and_held_to_their_domain() -> None:
    assert (RULES.risk_weight_concentration, RULES.risk_weight_leverage) == (
        Decimal("0.4"),
        Decimal("0.3"),
    )
    assert (RULES.risk_weight_liquidation, RULES.risk_no_liquidation_price) == (
        Decimal("0.3"),
        Decimal("0.1"),
    )
    assert (RULES.risk_leverage_cap, RULES.risk_liquidation_scale) == (Decimal(10), Decimal(10))
    assert (RULES.risk_warning_score, RULES.risk_warning_liquidation_distance) == (
        Decimal("0.7"),
        Decimal("0.1"),
    )
    chosen = rule_config({"risk_weight_concentration": "0.5", "risk_leverage_cap": 20})
    assert (chosen.risk_weight_concentration, chosen.risk_leverage_cap) == (
        Decimal("0.5"),
        Decimal(20),
    )
    with pytest.raises(MalformedInput, match="risk_weight_leverage must be a fraction"):
        rule_config({"risk_weight_leverage": 1.5})
    with pytest.raises(MalformedInput, match="risk_leverage_cap must be above 0"):
        rule_config({"risk_leverage_cap": 0})


def test_the_portfolio_figures() -> None:
    a = risk_of("10000", size="50", leverage="5", liq="95")  # 0.5, near liquidation
    b = risk_of("100", size="3", leverage="25", liq="50")  # 0.7, high
    c = risk_of("10000", size="20")  # 0.08 + 0 (no leverage known) + 0.03 = 0.11
    found = portfolio([("a", a), ("b", b), ("c", c)])
    assert (found.positions, found.notional) == (3, Decimal(5000 + 300 + 2000))
    assert (found.max_score, found.average_score) == (Decimal("0.7"), Decimal("0.436667"))
    assert (found.high_risk, found.near_liquidation) == (1, 1)
    assert (found.average_leverage, found.max_leverage) == (Decimal(15), Decimal(25))
    assert (found.largest_concentration, found.largest_concentration_of) == (Decimal(3), "b")
    empty = portfolio([])
    assert (empty.positions, empty.max_score, empty.average_leverage) == (0, None, None)


# --- RISK_WARNING: once per crossing --------------------------------------------------------


class Account:
    """One Bybit account's inputs through the reconciler, the RISK_WARNINGs each emits."""

    def __init__(self) -> None:
        self.reconciler = Reconciler()
        self.at = T0
        self.seq = 1

    def _warnings(self, record: dict[str, Any]) -> list[RiskWarning]:
        emitted: list[Emitted] = self.reconciler.apply(accepted(record))
        return [e for e in emitted if isinstance(e, RiskWarning)]

    def position(self, *, size: str, mark: str, liq: str = "", leverage: str = "2") -> list[str]:
        self.at += 1_000
        self.seq += 1
        record = position_frame(
            self.at,
            symbol="BTCUSDT",
            side="Buy" if size != "0" else "",
            size=size,
            seq=self.seq,
            updated_time=self.at,
            mark_price=mark,
            entry_price=mark,
            leverage=leverage,
            liq_price=liq,
        )
        return [w.trigger for w in self._warnings(record)]

    def equity(self, equity: str) -> list[str]:
        self.at += 1_000
        item = messages.wallet_item(
            total_equity=equity, total_wallet_balance=equity, available=equity
        )
        frame = messages.ws_frame("wallet", [item], message_id=f"w{self.at}", creation_time=self.at)
        return [w.trigger for w in self._warnings(messages.capture_ws(self.at, ACCOUNT, frame))]


def test_a_liquidation_distance_crossed_is_told_once_and_again_only_after_it_recovers() -> None:
    account = Account()
    assert account.equity("1000000") == []
    assert account.position(size="1", mark="100", liq="80") == []  # 0.2 away
    assert account.position(size="1", mark="100", liq="95") == ["LIQUIDATION_DISTANCE"]
    assert account.position(size="1", mark="100", liq="93") == []  # still within: silent
    assert account.position(size="1", mark="100", liq="85") == []  # back out: armed again
    assert account.position(size="1", mark="100", liq="91") == ["LIQUIDATION_DISTANCE"]


def test_a_score_crossed_by_the_equity_falling_is_told_once_per_crossing() -> None:
    account = Account()
    assert account.equity("100000") == []
    # 0.1 x 100000 = 10000 notional: 0.4 x 0.1 + 0.3 x 1 + 0.3 x 0.1 = 0.37.
    assert account.position(size="0.1", mark="100000", leverage="10") == []
    assert account.equity("10000") == ["SCORE"]  # concentration 1: 0.73
    assert account.equity("9000") == []  # still above
    assert account.equity("50000") == []  # 0.41: below, armed again
    assert account.equity("12000") == []  # 0.663333: not there yet
    assert account.equity("10000") == ["SCORE"]


def test_a_position_closed_and_opened_again_past_the_threshold_is_told_again() -> None:
    account = Account()
    assert account.position(size="1", mark="100", liq="95") == ["LIQUIDATION_DISTANCE"]
    assert account.position(size="0", mark="100") == []
    assert account.reconciler.detectors("bybit", ACCOUNT).risk.past == {}  # nothing kept
    assert account.position(size="1", mark="100", liq="96") == ["LIQUIDATION_DISTANCE"]


def test_the_warning_says_what_was_crossed_and_the_figures_behind_it() -> None:
    account = Account()
    account.equity("1000")
    account.at += 1_000
    record = position_frame(
        account.at,
        symbol="BTCUSDT",
        side="Buy",
        size="10",
        seq=99,
        updated_time=account.at,
        mark_price="100",
        leverage="10",
        liq_price="92",
    )
    warnings = account._warnings(record)
    assert [w.trigger for w in warnings] == ["LIQUIDATION_DISTANCE", "SCORE"]
    near, high = warnings
    assert (near.threshold, near.liquidation_distance, near.liq_price) == (
        Decimal("0.1"),
        Decimal("0.08"),
        Decimal(92),
    )
    assert (high.threshold, high.score, high.concentration, high.notional) == (
        Decimal("0.7"),
        Decimal("0.76"),
        Decimal(1),
        Decimal(1000),
    )
    assert (high.symbol, high.position_idx, high.category) == ("BTCUSDT", 0, "linear")


def test_thresholds_and_the_switch_are_the_rules_in_force() -> None:
    account = Account()
    quiet = dataclasses.replace(RULES, risk_warnings_enabled=False)
    account.reconciler.apply(accepted(rule_changes.record(T0, quiet, "rules.toml")))
    assert account.position(size="1", mark="100", liq="95") == []
    strict = dataclasses.replace(RULES, risk_warning_liquidation_distance=Decimal("0.01"))
    account.reconciler.apply(accepted(rule_changes.record(account.at + 1, strict, "rules.toml")))
    assert account.position(size="1", mark="100", liq="98") == []  # 0.02: not within 0.01
    assert account.position(size="1", mark="100", liq="99.5") == ["LIQUIDATION_DISTANCE"]


def test_a_change_of_rules_judges_every_held_position_again_at_once() -> None:
    """0.2 from liquidation: past a distance of 0.25 set later, told at that change; back
    inside a distance of 0.1, armed again without an event, and told again at 0.25."""
    account = Account()
    assert account.equity("1000000") == []
    assert account.position(size="1", mark="100", liq="80") == []

    def rules_set(distance: str) -> list[tuple[str, bool]]:
        account.at += 1_000
        chosen = dataclasses.replace(RULES, risk_warning_liquidation_distance=Decimal(distance))
        change = accepted(rule_changes.record(account.at, chosen, "rules.toml"))
        told = account.reconciler.apply(change)
        return [(e.trigger, e.cause == change.input_id) for e in told if isinstance(e, RiskWarning)]

    assert rules_set("0.25") == [("LIQUIDATION_DISTANCE", True)]
    assert rules_set("0.1") == []
    assert rules_set("0.25") == [("LIQUIDATION_DISTANCE", True)]


def test_a_public_price_nearing_liquidation_warns_without_waiting_for_a_position_report() -> None:
    from tests.triggers import ACCOUNT, T0, position, price, run
    from trueup.domain.emitted import RiskWarning
    from trueup.domain.reconciler import Reconciler

    reconciler = Reconciler()
    # The bot's own position, as the exchange holds it: no rule waits on the key.
    claim = {
        "kind": "position_opened", "position_id": "p-1", "symbol": "BTCUSDT", "side": "Buy",
        "qty": "1", "mode": "LIVE", "category": "linear", "position_idx": 0,
    }  # fmt: skip
    held = position(T0, "Buy", 1, liqPrice="90", markPrice="120", leverage="2")
    opened = {"at": T0, **ACCOUNT, "channel": "intent", "data": claim}
    assert [e for e in run([opened, held], reconciler) if e.type == "RISK_WARNING"] == []
    warned = [e for e in run([price(T0 + 1, "98")], reconciler) if isinstance(e, RiskWarning)]
    assert [(e.trigger, e.mark_price) for e in warned] == [("LIQUIDATION_DISTANCE", Decimal(98))]


# --- the coins: quote_equivalents ---------------------------------------------------------


def test_the_coins_usd_values_are_a_rule_recorded_like_every_other() -> None:
    assert RULES.quote_equivalents == {"USD": 1, "USDC": 1, "USDT": 1}
    chosen = rule_config({"quote_equivalents": {"USDT": "0.998", "USD": 1}})
    assert chosen.quote_equivalents == {"USD": Decimal(1), "USDT": Decimal("0.998")}
    line = rule_changes.record(T0, chosen, "test")
    assert line["data"]["quote_equivalents"] == {"USD": "1", "USDT": "0.998"}
    event = accepted(line)
    assert isinstance(event, RulesSet) and event.rules == chosen
    for wrong in ({"usdt": 1}, {"USDT": 0}, {"USDT": "one"}, ["USDT"]):
        with pytest.raises(MalformedInput, match="quote_equivalents must be an object"):
            rule_config({"quote_equivalents": wrong})


def test_concentration_sets_the_notional_against_the_equity_at_the_coins_usd_values() -> None:
    """50 BTCUSDT at 100, 5000 USDT, against 10000 USD of Bybit's unified account."""
    reconciler = Reconciler()
    wallet = messages.wallet_item(
        total_equity="10000", total_wallet_balance="10000", available="10000"
    )
    frame = messages.ws_frame("wallet", [wallet], message_id="w1", creation_time=T0)
    reconciler.apply(accepted(messages.capture_ws(T0, ACCOUNT, frame)))
    reconciler.apply(
        accepted(
            position_frame(
                T0 + 1, symbol="BTCUSDT", side="Buy", size="50", seq=1, updated_time=T0 + 1,
                mark_price="100", entry_price="100",
            )
        )
    )  # fmt: skip
    book = reconciler.book("bybit", ACCOUNT)
    key = book.key("linear", "BTCUSDT", 0)
    off_peg = rule_config({"quote_equivalents": {"USD": 1, "USDT": "0.9"}})
    no_value = rule_config({"quote_equivalents": {"USD": 1, "USDC": 1}})
    found = {
        name: risk.concentration
        for name, config in (("pegged", RULES), ("off peg", off_peg), ("no value", no_value))
        if (risk := position_risk(book, key, config)) is not None
    }
    assert found == {"pegged": Decimal("0.5"), "off peg": Decimal("0.45"), "no value": None}
