"""Errors are never facts: failed, rate-limited, partial or malformed syncs are reported as such.

None of these changes a position; they tell the trading system its view may be behind.
"""

from trueup.domain.book import AccountBook
from trueup.domain.emitted import Cause, Emitted, PositionSyncFailed, RateLimit
from trueup.domain.events import InputRejected, PositionsReported
from trueup.domain.snapshots import describe

RATE_LIMIT_RET_CODES = frozenset({10006, 10018})
RATE_LIMIT_HTTP_STATUSES = frozenset({403, 429})


def rejected_input(event: InputRejected) -> list[Emitted]:
    if event.channel not in ("ws", "rest") or not event.venue:
        return []  # a bad intent is the trading system's own error, not a failed sync
    cause = Cause(event.input_id, event.at)
    where = event.endpoint or "websocket"
    fields = cause.on_account(event.venue, event.account)
    if event.ret_code in RATE_LIMIT_RET_CODES or event.http_status in RATE_LIMIT_HTTP_STATUSES:
        return [RateLimit(**fields, reason=f"{where}: {event.reason}")]
    return [PositionSyncFailed(**fields, reason=f"{where}: {event.reason}")]


def snapshot_page(book: AccountBook, event: PositionsReported) -> list[Emitted]:
    """A page that completes no run, or a run given up for a new one, is a failed sync."""
    verdict = book.last_page
    if verdict is None or verdict.problem is None:
        return []
    cause = Cause(event.input_id, event.at)
    fields = cause.on_account(event.venue, event.account)
    return [PositionSyncFailed(**fields, reason=f"{verdict.problem}: snapshot incomplete")]


def snapshot_timeouts(book: AccountBook, cause: Cause) -> list[Emitted]:
    """Runs left unfinished past their timeout are failed syncs, reported once each."""
    fields = cause.on_account(book.venue, book.account)
    return [
        PositionSyncFailed(
            **fields,
            reason=f"position snapshot {describe(scope)}: pagination unfinished, "
            "snapshot incomplete",
        )
        for scope in book.snapshots.expired(cause.at)
    ]
