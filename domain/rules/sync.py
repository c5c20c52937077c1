"""Errors are never facts: failed, rate-limited, partial or malformed syncs are reported as such.

None of these changes a position; they tell the trading system its view may be behind.
"""

from trueup.domain.emitted import Cause, Emitted, PositionSyncFailed, RateLimit
from trueup.domain.events import InputRejected, PositionsReported
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.memory import Memory

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


def pagination(memory: Memory, event: PositionsReported) -> list[Emitted]:
    """A new snapshot begun while the last one is unfinished means pages were lost."""
    page = event.snapshot
    if page is None:
        return []
    scope = (page.category, page.symbol, page.settle_coin)
    emitted: list[Emitted] = []
    first_page = not page.cursor
    if first_page and scope in memory.pagination_since:
        cause = Cause(event.input_id, event.at)
        emitted.append(_unfinished(event.venue, event.account, scope, cause))
    if not page.next_cursor:
        memory.pagination_since.pop(scope, None)
    elif first_page:
        memory.pagination_since[scope] = event.at
    else:
        memory.pagination_since.setdefault(scope, event.at)
    return emitted


def pagination_timeouts(
    venue: str, account: str, memory: Memory, config: RuleConfig, cause: Cause
) -> list[Emitted]:
    emitted: list[Emitted] = []
    for scope, since in list(memory.pagination_since.items()):
        if cause.at - since >= config.pagination_timeout_ms:
            del memory.pagination_since[scope]
            emitted.append(_unfinished(venue, account, scope, cause))
    return emitted


def _unfinished(
    venue: str, account: str, scope: tuple[str, str | None, str | None], cause: Cause
) -> PositionSyncFailed:
    category, symbol, coin = scope
    what = symbol or f"settleCoin={coin}"
    return PositionSyncFailed(
        **cause.on_account(venue, account),
        reason=f"/v5/position/list {category} {what}: pagination unfinished, snapshot incomplete",
    )
