"""One account's balances, folded from the venue's wallet updates.

A venue may report an account per account type (a unified account, or a contract and a spot
one), with its coins, or give the margin summary beside its positions. The latest word on
each account type stands, and each coin's latest word stands (a frame may list only the
coins that moved); the account's figures are the sums over its account types, unknown while
any of them leaves one unknown, and stated in the one coin they all name (else none).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from trueup.domain.events import CoinBalance, WalletReport


@dataclass(frozen=True, slots=True)
class WalletSummary:
    """An account's balances as the views and `trueup summary` show them, in
    ``equity_coin`` (None: the venue's reports did not say which)."""

    equity: Decimal | None
    wallet_balance: Decimal | None
    available: Decimal | None
    margin_balance: Decimal | None
    initial_margin: Decimal | None
    maintenance_margin: Decimal | None
    unrealised_pnl: Decimal | None
    account_types: tuple[str, ...]
    coins: tuple[CoinBalance, ...]
    updated_at: int
    equity_coin: str | None = None


@dataclass(slots=True)
class Wallet:
    """The latest report per account type and the latest balance per coin."""

    reports: dict[str, WalletReport] = field(default_factory=dict)
    coins: dict[str, CoinBalance] = field(default_factory=dict)
    updated_at: int | None = None
    # The account's equity, summed once per update: risk reads it for every position.
    equity: Decimal | None = None
    equity_coin: str | None = None

    def apply(self, report: WalletReport, at: int) -> bool:
        """Take one update; says whether the account's equity changed (concentration, and
        so every held position's risk, is measured against it)."""
        before = self.equity
        self.reports[report.account_type] = report
        for coin in report.coins:
            self.coins[coin.coin] = coin
        self.updated_at = at
        self.equity = _total(r.total_equity for r in self.reports.values())
        coin_before, self.equity_coin = self.equity_coin, _one_coin(self.reports.values())
        return self.equity != before or self.equity_coin != coin_before

    def summary(self) -> WalletSummary | None:
        """None until the venue has said anything of the account's balances."""
        if self.updated_at is None:
            return None
        reports = [self.reports[kind] for kind in sorted(self.reports)]
        return WalletSummary(
            equity=_total(r.total_equity for r in reports),
            wallet_balance=_total(r.total_wallet_balance for r in reports),
            available=_total(r.total_available_balance for r in reports),
            margin_balance=_total(r.total_margin_balance for r in reports),
            initial_margin=_total(r.total_initial_margin for r in reports),
            maintenance_margin=_total(r.total_maintenance_margin for r in reports),
            unrealised_pnl=_total(r.total_unrealised_pnl for r in reports),
            account_types=tuple(r.account_type for r in reports),
            coins=tuple(self.coins[c] for c in sorted(self.coins)),
            updated_at=self.updated_at,
            equity_coin=self.equity_coin,
        )


def _one_coin(reports: Iterable[WalletReport]) -> str | None:
    """The coin every report states its figures in; None if one names none, or they differ
    (a sum of two coins is in neither)."""
    coins = {r.equity_coin for r in reports}
    return coins.pop() if len(coins) == 1 else None


def _total(values: Iterable[Decimal | None]) -> Decimal | None:
    """Their sum; None when there are none, or any is unknown (a part is not the whole)."""
    total: Decimal | None = None
    for value in values:
        if value is None:
            return None
        total = value if total is None else total + value
    return total
