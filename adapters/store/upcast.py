"""Stored forms an older trueup wrote, read as this one would have written them.

Up to journal format 3 the domain spoke Bybit's vocabulary: ``order_id``, ``order_link_id``
and ``exec_id``; sides Buy and Sell (a flat position's ""); Bybit's orderStatus names
(Hyperliquid's adapter translated into them too); a ``stop_order_type`` of Bybit's names;
a fill's ``exec_type`` before its ``kind``. A stored event that no longer decodes is
rewritten here in today's words and decoded again, so an old journal replays, audits and
lists as a new one does; the rules then judge both alike.

Before the reports named the coins money is counted in and how their contract is sized, the
domain read them off the venue, the category and the symbol. A report stored without them is
given them as it is read, from its venue's adapter (the same knowledge its decoder has now),
so an old journal sums, weighs and summarises as it did. So is a position list not of one
symbol, stored before it named the forms of the names it covers (or when it named only
their endings, which said nothing of a dated future): it covers what the list returns.
One stored before pages named their base coin, asked by one (Bybit's option list by
baseCoin, which returns that coin's options alone), is given the forms its line's request
says, under the scope it was filed and folded under (of no base coin).

A ccxt contract was once counted in whatever followed its unified name's colon (a dated
future's ``USDT-241231``, an inverse contract's base coin) and sized as linear: its records
are counted again from their names as they are read, as the adapter counts them now (the
same for one stored since).

Before Hyperliquid's fills were read for what they closed (``startPosition``), they were
stored with no closed size: one such fill is given the one its line says as it is read.

Rules recorded before manual close awaited a close's cause (``close_cause_grace_ms``) are
read with none (0): that trueup reported such a close at once, and a replay or an audit of
its journal emits what it emitted then. So are the inputs of a journal that trueup began
before any rules are recorded in it (journal_format.py, format 7): ``rules_before_any``.
"""

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
from msgspec.structs import force_setattr

from trueup.adapters.bybit.wire import (
    EXECUTION_KINDS,
    ORDER_SIDES,
    ORDER_STATUSES,
    POSITION_SIDES,
    STOP_ORDER_ORIGINS,
)
from trueup.adapters.ccxt.venue import VENUE as CCXT
from trueup.adapters.store.journal_format import RULES_BEFORE_CLOSE_CAUSE_GRACE
from trueup.adapters.venue import UNKNOWN_COINS, Coins
from trueup.adapters.venues import find
from trueup.domain.coverage import Coverage
from trueup.domain.events import (
    ExecutionsReported,
    Fill,
    InputEvent,
    PositionReport,
    PositionsReported,
    RulesSet,
    SnapshotPage,
    WalletReport,
    WalletReported,
)
from trueup.domain.rules.config import RuleConfig
from trueup.domain.snapshots import Scope
from trueup.domain.vocabulary import ContractKind, ExecutionKind

JSON = dict[str, Any]
HYPERLIQUID = "hyperliquid"
STORED_START = '"startPosition"'  # in a line whose fills say what they closed
STORED_BASE_COIN = '"baseCoin"'  # in a position list's line asked by a base coin
_RENAMED = {"order_id": "venue_order_id", "order_link_id": "client_order_id", "exec_id": "trade_id"}


def _renamed(record: JSON) -> JSON:
    return {_RENAMED.get(name, name): value for name, value in record.items()}


def _order_side(record: JSON) -> None:
    side = record.get("side")
    if side in ORDER_SIDES:
        record["side"] = ORDER_SIDES[side].value
    elif side == "":
        record["side"] = None


def _position_side(record: JSON) -> None:
    side = record.get("side")
    if side in POSITION_SIDES:
        record["side"] = POSITION_SIDES[side].value


def _order(record: JSON) -> JSON:
    record = _renamed(record)
    _order_side(record)
    status = record.get("status")
    if status in ORDER_STATUSES:
        record["status"] = ORDER_STATUSES[status].value
    if "stop_order_type" in record:
        origin = STOP_ORDER_ORIGINS.get(record.pop("stop_order_type"))
        record["origin"] = origin.value if origin else None
    return record


def _fill(record: JSON) -> JSON:
    record = _renamed(record)
    _order_side(record)
    exec_type = record.pop("exec_type", None)
    if "kind" not in record:
        record["kind"] = EXECUTION_KINDS.get(exec_type or "Trade", ExecutionKind.TRADE).value
    record.setdefault("origin", None)
    return record


def _positions(state: JSON) -> None:
    for report in state.get("reports") or ():
        _position_side(report)


def _orders(state: JSON) -> None:
    state["orders"] = [_order(order) for order in state.get("orders") or ()]


def _fills(state: JSON) -> None:
    state["fills"] = [_fill(fill) for fill in state.get("fills") or ()]


def _sl_update(state: JSON) -> None:
    status = state.get("status")
    if status in ORDER_STATUSES:
        state["status"] = ORDER_STATUSES[status].value


_BY_TYPE: dict[str, Callable[[JSON], None]] = {
    "PositionsReported": _positions,
    "OrdersReported": _orders,
    "ExecutionsReported": _fills,
    "LocalPositionOpened": _position_side,
    "OrderPlaced": _order_side,
    "SL_UPDATE": _sl_update,
}


def legacy(state: bytes) -> bytes:
    """``state`` in today's field names and vocabulary (unchanged where nothing is old)."""
    try:
        parsed = orjson.loads(state)
    except orjson.JSONDecodeError:
        return state
    if not isinstance(parsed, dict):
        return state
    record = _renamed(parsed)
    rewrite = _BY_TYPE.get(str(record.get("type")))
    if rewrite is not None:
        rewrite(record)
    return orjson.dumps(record)


# The types with_coins and with_start_positions may change (with their subclasses); they give
# any other event back as it is.
UPCAST_TYPES = (PositionsReported, ExecutionsReported, WalletReported)


def with_coins(event: InputEvent) -> InputEvent:
    """``event`` with the coins its venue counts in, where its reports name none (stored
    before they did), or where they are a ccxt contract's, read off its name. Only for an
    event just decoded, which nothing else holds yet: its reports change in place."""
    if isinstance(event, PositionsReported):
        records: tuple[Any, ...] = event.reports
        page = event.snapshot
        if page is not None and page.symbol is None and page.base_coin is None:
            _forms_asked(event, page)
        if event.wallet is not None:
            _equity_coin((event.wallet,), event.venue)
    elif isinstance(event, ExecutionsReported):
        records = event.fills
    elif isinstance(event, WalletReported):
        _equity_coin(event.wallets, event.venue)
        return event
    else:
        return event
    coins: Coins | None = None
    # A ccxt record's coin and kind are its name's alone: counted again, old or new.
    recount = find(event.venue) is CCXT
    for record in records:
        # A record stored without its coin was stored without its contract's kind too.
        if record.notional_coin is None or recount:
            coins = coins or _coins(event.venue)
            coin = coins.counted_in(record.category, record.symbol)
            if coin != record.notional_coin:
                force_setattr(record, "notional_coin", coin)
            kind = coins.kind(record.category, record.symbol)
            if kind is not record.contract_kind:
                force_setattr(record, "contract_kind", kind)
        # An inverse position's PnL coin, where it was stored before it was named.
        inverse = record.contract_kind is ContractKind.INVERSE
        if inverse and isinstance(record, PositionReport) and record.pnl_coin is None:
            coins = coins or _coins(event.venue)
            force_setattr(record, "pnl_coin", coins.pnl_coin(record.category, record.symbol))
    return event


STORED_CLOSE_CAUSE_GRACE = b'"close_cause_grace_ms":'


def with_close_cause_grace(event: RulesSet, state: bytes) -> RulesSet:
    """``event`` (stored as ``state``) with no grace for a close's cause where it was
    recorded before the rule had one: the rules that trueup ran by."""
    if STORED_CLOSE_CAUSE_GRACE in state or not event.rules.close_cause_grace_ms:
        return event
    rules = dataclasses.replace(event.rules, close_cause_grace_ms=0)
    return msgspec.structs.replace(event, rules=rules)


def rules_before_any(recorded: int) -> RuleConfig:
    """The rules that judged a journal's inputs before its first RulesSet, by the choice its
    format records (journal_format.rules_before_any_recorded): this trueup's defaults, or,
    in a journal an older trueup began, those with no grace for a close's cause."""
    if recorded == RULES_BEFORE_CLOSE_CAUSE_GRACE:
        return RuleConfig(close_cause_grace_ms=0)
    return RuleConfig()


def with_start_positions(event: InputEvent) -> InputEvent:
    """``event`` with what each Hyperliquid fill's ``startPosition`` gives, its closed size
    and the position before it, where it was stored without them (before the adapter read
    them). Only for an event just decoded: its fills change in place."""
    if not isinstance(event, ExecutionsReported) or event.venue != HYPERLIQUID:
        return event
    fills = event.fills
    if not any(
        f.side is not None and (f.closed_size is None or f.position_before is None) for f in fills
    ):
        return event  # the common case: stored with them, or none to give
    if STORED_START not in event.raw:
        return event
    # Imported here: the capture decoder reaches the venues, which reach this store's forms.
    from trueup.adapters.capture import decode_line

    again = decode_line(event.raw)
    if not isinstance(again, ExecutionsReported):
        return event
    for fill, read in zip(fills, _read_again(fills, again.fills), strict=True):
        if read is None or fill.side is None:
            continue
        if fill.closed_size is None:
            force_setattr(fill, "closed_size", read.closed_size)
        if fill.position_before is None:
            force_setattr(fill, "position_before", read.position_before)
    return event


def _read_again(stored: tuple[Fill, ...], read: tuple[Fill, ...]) -> list[Fill | None]:
    """Each stored fill as the line now reads it: the read fill in its place, as a line
    reads the same way twice; else the one of its trade id, unless the line repeats that id
    (one with startPosition, one without: which is whose would be a guess)."""
    if [f.trade_id for f in stored] == [f.trade_id for f in read]:
        return list(read)
    repeated = {i for i, n in Counter(f.trade_id for f in read).items() if n > 1}
    by_id = {f.trade_id: f for f in read if f.trade_id not in repeated}
    return [by_id.get(f.trade_id) for f in stored]


def _forms_asked(event: PositionsReported, page: SnapshotPage) -> None:
    """Give ``page``, a list asked of no symbol and stored of no base coin, the forms of the
    names it returns: its base coin's where its line asked by one (stored before pages named
    it), else its settle coin's where it was stored without them."""
    if STORED_BASE_COIN in event.raw:
        # Imported here: the capture decoder reaches the venues, which reach this store's forms.
        from trueup.adapters.capture import decode_line

        again = decode_line(event.raw)
        asked = again.snapshot if isinstance(again, PositionsReported) else None
        if asked is not None and asked.base_coin is not None and asked.symbol_forms:
            force_setattr(page, "symbol_forms", asked.symbol_forms)
            return
    if not page.symbol_forms:
        forms = _coins(event.venue).listed_forms(page.category, page.settle_coin, None)
        if forms:
            force_setattr(page, "symbol_forms", forms)


def _equity_coin(wallets: tuple[WalletReport, ...], venue: str) -> None:
    for wallet in wallets:
        if wallet.equity_coin is None:
            coin = _coins(venue).equity
            if coin is not None:
                force_setattr(wallet, "equity_coin", coin)


def coverage(venue: str, scope: Scope) -> Coverage:
    """What a complete snapshot of ``scope`` on ``venue`` covers, as its pages say it now
    (a stored page is given its forms as it is read: ``with_coins``)."""
    category, symbol, settle_coin, base_coin = scope
    forms = () if symbol else _coins(venue).listed_forms(category, settle_coin, base_coin)
    return Coverage(category, symbol, settle_coin, forms, base_coin)


def _coins(venue: str) -> Coins:
    found = find(venue)
    return UNKNOWN_COINS if found is None else found.coins
