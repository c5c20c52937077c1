"""Errors are never facts: failed, rate-limited, partial or malformed syncs are reported as such.

None of these changes a position; they tell the trading system its view may be behind.
"""

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted, PositionSyncFailed, RateLimit, WsReconnect
from trueup.domain.events import InputEvent, InputRejected, PositionsReported, StreamReconnected
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector
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


def stream_reconnected(event: StreamReconnected) -> list[Emitted]:
    cause = Cause(event.input_id, event.at)
    reason = f"{event.stream} stream reconnected (attempt {event.attempt}): {event.reason}"
    return [WsReconnect(**cause.on_account(event.venue, event.account), reason=reason)]


class SyncDetector(Detector):
    """Snapshot runs that fail or never finish; what it needs to know, the book's snapshots
    keep (book.snapshots, book.last_page)."""

    __slots__ = ()

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        """A page that completes no run, or a run given up for a new one, is a failed sync."""
        verdict = book.last_page  # set by position reports alone
        if verdict is None or verdict.problem is None or not isinstance(event, PositionsReported):
            return []
        fields = cause.on_account(event.venue, event.account)
        return [PositionSyncFailed(**fields, reason=f"{verdict.problem}: snapshot incomplete")]

    def on_time(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        """Runs left unfinished past their timeout are failed syncs, reported once each."""
        expired = book.snapshots.expired(cause.at)
        if not expired:
            return []
        fields = cause.on_account(book.venue, book.account)
        return [
            PositionSyncFailed(
                **fields,
                reason=f"position snapshot {describe(scope)}: pagination unfinished, "
                "snapshot incomplete",
            )
            for scope in expired
        ]
