"""The portfolio read model: what `trueup summary` answers, from the persisted views alone.

Positions are the keys the exchange holds (each with its risk, domain/risk.py); PnL is the
ledger's (domain/pnl.py): realised, fees and funding of every key since trueup first saw
it, unrealised from the latest mark, or the venue's own figure where the ledger holds no
open lifecycle (a position opened before trueup saw its fills). Distribution is by share of
notional: by venue, by the venue's symbol, and by asset across venues (Bybit's BTCUSDT and
Hyperliquid's BTC are both BTC: projections/ccxt.py ``base_asset``). Notionals, PnL and
the accounts' equity are summed in USD, each at the value the rules' quote_equivalents give
its coin (domain/coin_values.py; by default USD, USDT and USDC one for one), the coin each
venue's reports name; what is counted in a coin they give no value (or in none named) is
shown apart, per coin and in that coin, and left out of every total and share.
"""

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from trueup.domain.coin_values import usd_value
from trueup.domain.coverage import Vouched
from trueup.domain.risk import portfolio, share
from trueup.domain.risk_records import PortfolioRisk, PositionRisk
from trueup.domain.rules.config import DEFAULTS, RuleConfig
from trueup.domain.vocabulary import PositionSide, Whose
from trueup.domain.wallet import WalletSummary
from trueup.projections.ccxt import base_asset
from trueup.projections.views import AccountView, KeyRow, SymbolView

ZERO = Decimal(0)
ONE = Decimal(1)
UNKNOWN_COIN = "?"  # no report named the coin: apart, never guessed
_SUMMED = ("realised_pnl", "fees", "funding")  # a key's PnL summed, beside its unrealised
JSON = dict[str, Any]


@dataclass(slots=True)
class Exposure:
    """The positions of one venue, account or symbol, and their share of the notional."""

    name: str
    positions: int = 0
    notional: Decimal = ZERO
    long_notional: Decimal = ZERO
    short_notional: Decimal = ZERO
    share: Decimal = ZERO

    def add(self, risk: PositionRisk, usd: Decimal) -> None:
        """One position, its notional at ``usd`` (one of its coin in USD)."""
        self.positions += 1
        notional = (risk.notional or ZERO) * usd
        self.notional += notional
        if risk.side is PositionSide.SHORT:
            self.short_notional += notional
        else:
            self.long_notional += notional


@dataclass(slots=True)
class AccountSummary:
    """One account: its balances as the venue last reported them, and its positions' PnL."""

    venue: str
    account: str
    wallet: WalletSummary | None
    # The wallet's equity in USD; None with no wallet, or its coin has no USD value (apart).
    equity: Decimal | None = None
    positions: int = 0
    notional: Decimal = ZERO
    unrealised_pnl: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO


@dataclass(slots=True)
class Apart:
    """What is counted in a coin the rules give no USD value: in that coin, never summed
    with the rest (a notional in it would be a guess in USD)."""

    coin: str
    positions: int = 0
    notional: Decimal = ZERO
    equity: Decimal = ZERO  # of the accounts whose wallet is stated in it
    unrealised_pnl: Decimal = ZERO
    realised_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO


@dataclass(slots=True)
class Summary:
    """The portfolio: positions, PnL, balances per account, distribution and risk."""

    positions: int
    notional: Decimal
    unrealised_pnl: Decimal
    realised_pnl: Decimal  # before fees, of every key since trueup first saw it
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal  # realised - fees + funding + unrealised
    unrealised_from_venue: int  # positions whose unrealised PnL is the venue's own figure
    # Positions held with no figure of the venue's and none of trueup's (no fills folded
    # with a mark).
    unrealised_unknown: int
    # Lifecycles of trueup's fills that no report of the venue has named yet (its next
    # push or poll will): not counted above, the venue having vouched for none of them.
    unreported: int = 0
    # Of the accounts listed, in USD (those apart left out); None where none has a wallet in
    # a coin of USD value: nothing was summed, which a 0 would not say.
    equity: Decimal | None = None
    accounts: list[AccountSummary] = field(default_factory=list)
    by_venue: list[Exposure] = field(default_factory=list)
    by_symbol: list[Exposure] = field(default_factory=list)
    by_asset: list[Exposure] = field(default_factory=list)  # the base asset, across venues
    risk: PortfolioRisk | None = None
    apart: list[Apart] = field(default_factory=list)  # coins with no USD value, by coin

    def as_json(self) -> JSON:
        """As `trueup summary --json` prints it: decimals as strings."""
        document: JSON = msgspec.to_builtins(self)
        return document


def summarise(
    account_views: Iterable[AccountView],
    symbol_views: Iterable[SymbolView],
    *,
    venue: str | None = None,
    account: str | None = None,
    symbol: str | None = None,
    rules: RuleConfig = DEFAULTS,
) -> Summary:
    """The summary of the views, of ``venue``, ``account`` and ``symbol`` where given, in
    USD at the values of ``rules`` (quote_equivalents)."""
    accounts, lists = _accounts(account_views, venue, account)
    by_venue: dict[str, Exposure] = {}
    by_symbol: dict[str, Exposure] = {}
    by_asset: dict[str, Exposure] = {}
    apart: dict[str, Apart] = {}
    risks: list[tuple[str, PositionRisk]] = []
    from_venue = unknown = unreported = 0
    for view in symbol_views:
        if not _wanted(view.venue, view.account, venue, account):
            continue
        # A symbol with no key (one only a trigger named) holds nothing to sum.
        if (symbol is not None and view.symbol != symbol) or not view.keys:
            continue
        named = (view.venue, view.account)
        unreported += sum(_unreported(row, view.symbol, lists.get(named, ())) for row in view.keys)
        mine = accounts.setdefault(named, AccountSummary(*named, None))
        # Flat with no PnL: nothing to sum, not "0 in a coin no report named" (apart).
        for row in filter(_counts, view.keys):
            coin = _coin(row)
            totals, usd = _summed_in(coin, mine, apart, rules)
            # An inverse contract's PnL is in its settle coin, its notional in USD: that coin
            # is listed apart only for what the key holds in it.
            pnl_coin, pnl_totals, pnl_usd = _pnl_coin(row), totals, usd
            if pnl_coin != coin:
                pnl_totals, pnl_usd = _summed_in(pnl_coin, mine, apart, rules, _has_pnl(row))
            _add_pnl(pnl_totals, row, pnl_usd)
            for paid_in, fee in (row.pnl.get("fees_apart") or {}).items() if row.pnl else ():
                fee_totals, fee_usd = _summed_in(paid_in, mine, apart, rules)
                fee_totals.fees += Decimal(fee) * fee_usd
            risk = row.risk
            if risk is None:
                continue
            unrealised, source = _unrealised(row)
            if source is Whose.VENUE:
                from_venue += 1
            elif source is None:
                unrealised = ZERO
                unknown += 1
            pnl_totals.unrealised_pnl += (unrealised or ZERO) * pnl_usd
            totals.positions += 1
            totals.notional += (risk.notional or ZERO) * usd
            label = f"{view.venue}/{view.account} {view.symbol} idx={row.position_idx}"
            risks.append((label, risk))
            if totals is not mine:
                continue
            by_venue.setdefault(view.venue, Exposure(view.venue)).add(risk, usd)
            by_symbol.setdefault(view.symbol, Exposure(view.symbol)).add(risk, usd)
            asset = base_asset(view.venue, row.category, view.symbol)
            by_asset.setdefault(asset, Exposure(asset)).add(risk, usd)
    listed = [accounts[k] for k in sorted(accounts)]
    total = sum((a.notional for a in listed), ZERO)
    for exposure in (*by_venue.values(), *by_symbol.values(), *by_asset.values()):
        exposure.share = share(exposure.notional, total)
    realised = sum((a.realised_pnl for a in listed), ZERO)
    fees = sum((a.fees for a in listed), ZERO)
    funding = sum((a.funding for a in listed), ZERO)
    unrealised = sum((a.unrealised_pnl for a in listed), ZERO)
    return Summary(
        positions=len(risks),
        notional=total,
        unrealised_pnl=unrealised,
        realised_pnl=realised,
        fees=fees,
        funding=funding,
        net_pnl=realised - fees + funding + unrealised,
        unrealised_from_venue=from_venue,
        unrealised_unknown=unknown,
        unreported=unreported,
        # Before ``apart`` is listed: an equity in a coin of no USD value is shown there.
        equity=_add_equity(listed, apart, rules),
        accounts=listed,
        by_venue=_largest_first(by_venue.values()),
        by_symbol=_largest_first(by_symbol.values()),
        by_asset=_largest_first(by_asset.values()),
        # Of every position held, apart or not; its notional is the one summed in USD.
        risk=dataclasses.replace(portfolio(risks), notional=total),
        apart=[apart[c] for c in sorted(apart)],
    )


def _wanted(venue: str, account: str, want_venue: str | None, want_account: str | None) -> bool:
    return (want_venue is None or venue == want_venue) and (
        want_account is None or account == want_account
    )


def _summed_in(
    coin: str | None,
    mine: AccountSummary,
    apart: dict[str, Apart],
    rules: RuleConfig,
    listed: bool = True,
) -> tuple["AccountSummary | Apart", Decimal]:
    """Where figures counted in ``coin`` are summed, and the USD value of one: the account's
    totals, or apart in that coin (counted in its own coin) where it has no USD value; not
    ``listed``, such a coin is not added to the list apart (nothing to sum in it)."""
    usd = usd_value(coin, rules)
    if usd is None:
        name = coin or UNKNOWN_COIN
        return (apart.setdefault(name, Apart(name)) if listed else Apart(name)), ONE
    return mine, usd


def _has_pnl(row: KeyRow) -> bool:
    """Whether the key holds any PnL figure other than 0."""
    pnl = row.pnl
    figures = ("realised_pnl", "fees", "funding", "unrealised_pnl")
    return bool(pnl) and any(
        pnl.get(name) not in (None, "0") and Decimal(pnl[name]) for name in figures
    )


def _coin(row: KeyRow) -> str | None:
    """The coin the key's notional is counted in: as its position report named it, else its
    fills."""
    named = row.risk.notional_coin if row.risk is not None else None
    return named or (row.pnl.get("coin") if row.pnl else None)


def _pnl_coin(row: KeyRow) -> str | None:
    """The coin the key's PnL is counted in: its ledger's (an inverse contract's settle coin,
    its notional's otherwise), else its notional's."""
    return (row.pnl.get("coin") if row.pnl else None) or _coin(row)


def _add_equity(
    accounts: Iterable[AccountSummary], apart: dict[str, Apart], rules: RuleConfig
) -> Decimal | None:
    """Each account's equity in USD, and their total (None: none had one); in its own coin,
    apart, where that has no USD value (or its reports named none)."""
    total: Decimal | None = None
    for summary in accounts:
        wallet = summary.wallet
        if wallet is None or wallet.equity is None:
            continue
        usd = usd_value(wallet.equity_coin, rules)
        if usd is None:
            name = wallet.equity_coin or UNKNOWN_COIN
            apart.setdefault(name, Apart(name)).equity += wallet.equity
        else:
            summary.equity = wallet.equity * usd
            total = summary.equity + (total or ZERO)
    return total


def _accounts(
    views: Iterable[AccountView], venue: str | None, account: str | None
) -> tuple[dict[tuple[str, str], AccountSummary], dict[tuple[str, str], tuple[Vouched, ...]]]:
    """The accounts summed (of ``venue`` and ``account`` where given), and every account's
    lists of positions (its scopes' last complete snapshots)."""
    # An account is the portfolio's once its exchange or its bot has said something of it:
    # not one known only from a command about it (a trigger's), which holds nothing.
    known = [v for v in views if v.facts.known]
    summed = {
        (v.venue, v.account): AccountSummary(v.venue, v.account, v.wallet)
        for v in known
        if _wanted(v.venue, v.account, venue, account)
    }
    return summed, {(v.venue, v.account): v.facts.snapshots for v in known}


def _counts(row: KeyRow) -> bool:
    """Whether the key has anything to sum: a position held, or PnL since trueup saw it."""
    pnl = row.pnl
    return row.risk is not None or any(Decimal(pnl.get(f) or 0) for f in _SUMMED)


def _unreported(row: KeyRow, symbol: str, vouched: tuple[Vouched, ...]) -> bool:
    """Whether a lifecycle of trueup's fills is open on the key, and no report of the venue
    has named it since (none at all, or a flat one older than its fill); as can-open, only
    where a list of the venue's (``vouched``) could name the key, or none was taken yet:
    Bybit's spot has no positions, and its buys hold none."""
    life = row.pnl.get("open") if row.pnl else None
    if row.risk is not None or life is None or life["closed_at_venue"]:
        return False
    return not vouched or any(v.coverage.covers(row.category, symbol) for v in vouched)


def _add_pnl(totals: "AccountSummary | Apart", row: KeyRow, usd: Decimal) -> None:
    pnl = row.pnl
    if pnl:
        totals.realised_pnl += Decimal(pnl["realised_pnl"]) * usd
        totals.fees += Decimal(pnl["fees"]) * usd
        totals.funding += Decimal(pnl["funding"]) * usd


def _unrealised(row: KeyRow) -> tuple[Decimal | None, Whose | None]:
    """The key's unrealised PnL and whose figure it is, as `positions` shows it
    (domain/pnl.py ``unrealised``); (None, None): unknown."""
    pnl = row.pnl
    figure, whose = pnl.get("unrealised_pnl"), pnl.get("unrealised_source")
    if figure is None or whose is None:
        return None, None
    return Decimal(figure), Whose(whose)


def _largest_first(exposures: Iterable[Exposure]) -> list[Exposure]:
    return sorted(exposures, key=lambda e: (-e.notional, e.name))
