"""What the persisted views must take again: the accounts, and the symbols of each, whose
reconciled state the inputs applied since the views last looked may have changed."""

from collections.abc import Iterable

Account = tuple[str, str]


class Touched:
    """Accounts and symbols touched since ``take`` was last called."""

    __slots__ = ("every_account", "symbols", "whole")

    def __init__(self) -> None:
        self.symbols: dict[Account, set[str]] = {}
        self.whole: set[Account] = set()  # every symbol of these accounts
        self.every_account = False  # every symbol of every account (the rules changed)

    def account(self, account: Account) -> set[str]:
        """The account is touched (its own view); returns its touched symbols to add to."""
        found = self.symbols.get(account)
        if found is None:
            found = self.symbols[account] = set()
        return found

    def add(self, account: Account, symbols: Iterable[str]) -> None:
        self.account(account).update(symbols)

    def whole_account(self, account: Account) -> None:
        self.account(account)
        self.whole.add(account)

    def everything(self) -> None:
        self.every_account = True

    def __bool__(self) -> bool:
        return self.every_account or bool(self.symbols)

    def take(self) -> "Touched":
        """What was touched, handed over once: this starts empty again."""
        taken = Touched()
        taken.symbols, taken.whole, taken.every_account = (
            self.symbols,
            self.whole,
            self.every_account,
        )
        self.symbols, self.whole, self.every_account = {}, set(), False
        return taken
