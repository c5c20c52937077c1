"""Which accounts a server answers for in /health: those it is told to follow, and any that
has had an input lately. An account gone quiet longer has been retired, not broken: it drops
out of the verdict, and stays in every view and listing."""

from dataclasses import dataclass

# A day: long past any poll interval or reconnect, so a feed that dies is reported for a
# day before its account counts as retired (name it with serve --follow to keep it counted).
DEFAULT_QUIET_AFTER_MS = 24 * 60 * 60 * 1000

Account = tuple[str, str]


@dataclass(frozen=True)
class Following:
    """The accounts named (``serve --follow``) always count; any other while its latest
    input is at most ``quiet_after_ms`` old (``serve --quiet-after-ms``)."""

    quiet_after_ms: int = DEFAULT_QUIET_AFTER_MS
    accounts: frozenset[Account] = frozenset()

    def follows(self, account: Account, last_input_at: int, now: int) -> bool:
        return account in self.accounts or now - last_input_at <= self.quiet_after_ms
