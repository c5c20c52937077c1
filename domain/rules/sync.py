"""Errors are never facts: failed, rate-limited, partial or malformed syncs are reported as such.

None of these changes a position; they tell the trading system its view may be behind. They
are told quietly: the first failure from one place is told at once, identical ones within
``alarm_window_ms`` are counted, and told as one event (with its count) when the window ends.
"""

from dataclasses import dataclass

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted, PositionSyncFailed, RateLimit, WsReconnect
from trueup.domain.events import (
    InputEvent,
    InputRejected,
    PositionsReported,
    RejectionKind,
    StreamReconnected,
)
from trueup.domain.instants import iso
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, EventTypes
from trueup.domain.snapshots import describe

# Refusals that mean the exchange view may be behind; a control message, or a topic trueup
# does not read, means nothing failed.
FAILED_SYNC = frozenset(
    {RejectionKind.MALFORMED, RejectionKind.ERROR_REPLY, RejectionKind.UNREACHABLE}
)
Alarm = type[PositionSyncFailed] | type[RateLimit]


def stream_reconnected(event: StreamReconnected) -> list[Emitted]:
    cause = Cause(event.input_id, event.at)
    reason = f"{event.stream} stream reconnected (attempt {event.attempt}): {event.reason}"
    return [WsReconnect(**cause.on_account(event.venue, event.account), reason=reason)]


@dataclass(slots=True)
class _Told:
    """An alarm told, and those like it since, held back until its window ends."""

    alarm: Alarm
    told_at: int
    reason: str
    held: int = 0


class SyncDetector(Detector):
    """Snapshot runs that fail or never finish, and refused replies; what it needs to know
    of runs, the book's snapshots keep (book.snapshots, book.last_page)."""

    def judged(self) -> EventTypes:
        return (PositionsReported,)

    __slots__ = ("told",)

    def __init__(self) -> None:
        # (alarm type, where it failed) -> when it was last told, and how many since.
        self.told: dict[tuple[str, str], _Told] = {}

    def rejected(self, event: InputRejected, cause: Cause, config: RuleConfig) -> list[Emitted]:
        """A refused reply or frame from the exchange, as its adapter classified it."""
        if event.channel not in ("ws", "rest") or not event.venue:
            return []  # a bad intent is the trading system's own error, not a failed sync
        alarm: Alarm
        if event.kind is RejectionKind.RATE_LIMITED:
            alarm = RateLimit
        elif event.kind in FAILED_SYNC:
            alarm = PositionSyncFailed
        else:
            return []
        where = event.endpoint or "websocket"
        account = (event.venue, event.account)
        reason = f"{where}: {event.reason}"
        return self._alarm(alarm, where, reason, account=account, cause=cause, config=config)

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
        reason = f"{verdict.problem}: snapshot incomplete"
        account = (book.venue, book.account)
        return self._alarm(
            PositionSyncFailed, "snapshot", reason, account=account, cause=cause, config=config
        )

    def on_time(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        """Runs left unfinished past their timeout are failed syncs; the windows that have
        ended tell what they held back."""
        emitted: list[Emitted] = []
        if self.told:
            emitted += self._windows_ended(book, cause, config)
        if book.snapshots.under_way():
            for scope in book.snapshots.expired(cause.at):
                where = f"position snapshot {describe(scope)}"
                reason = f"{where}: pagination unfinished, snapshot incomplete"
                account = (book.venue, book.account)
                emitted += self._alarm(
                    PositionSyncFailed, where, reason, account=account, cause=cause, config=config
                )
        return emitted

    def _alarm(
        self,
        alarm: Alarm,
        where: str,
        reason: str,
        *,
        account: tuple[str, str],
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        """Told now, or counted if one like it was told within the window."""
        key = (alarm.type, where)
        told = self.told.get(key)
        if told is not None and cause.at - told.told_at < config.alarm_window_ms:
            told.held += 1
            told.reason = reason
            return []
        self.told[key] = _Told(alarm, cause.at, reason)
        return [alarm(**cause.on_account(*account), reason=reason)]

    def _windows_ended(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        emitted: list[Emitted] = []
        for key, told in list(self.told.items()):
            if cause.at - told.told_at < config.alarm_window_ms:
                continue
            del self.told[key]
            if told.held:
                reason = f"{told.reason} ({told.held} times since {iso(told.told_at)})"
                fields = cause.on_account(book.venue, book.account)
                emitted.append(told.alarm(**fields, reason=reason, count=told.held))
        return emitted
