"""Hostile values: what a venue, a bot or a broken capture could put where a field goes.

Each catalogue is a tuple of tree values (tests.fuzz.tree); ``FIELD_VALUES`` maps a field
name to the catalogue that fits it, for the field-aware mutations.
"""

from tests.fuzz.tree import Tree, raw

YEAR_10000_MS = 253_402_300_800_000
SAMPLE_MS = 1_762_199_100_000


def deep(depth: int, kind: str = "array") -> Tree:
    """A value nested ``depth`` levels deep, as text (no recursion to build or write it)."""
    if kind == "array":
        return raw("[" * depth + "1" + "]" * depth)
    return raw('{"a":' * depth + "1" + "}" * depth)


# Text that looks like a number to str.isdigit() or Decimal() but is not what a venue sends.
NUMERIC_LOOKALIKES: tuple[Tree, ...] = (
    "²",
    "٣",
    "१",
    "\uff11",
    "³⁴",
    "-²",
    "--1",
    "\u22121",
    "1_000",
    " 1",
    "1 ",
    "+1",
    ".5",
    "5.",
    "0x10",
    "1e5",
    "1E+2",
    "١٧٦٢١٩٩١٠٠٠٠٠",
    "",
    "-",
    "NaN",
    "nan",
    "sNaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "inf",
)

# Decimal text a quantity or price field could carry: extreme, negative, over-precise.
DECIMAL_TEXTS: tuple[Tree, ...] = (
    "0",
    "0.0",
    "-0",
    "-0.0",
    "-0.1",
    "-1",
    "0.1",
    "0.3",
    "1",
    "1.5",
    "1e999999999",
    "-1e999999999",
    "1E-999999999",
    "1e-7",
    "123456789012345678901234567890123",
    "0.000000000000000000000000000000001",
    "999999999999999999.999999999999999999",
    "1000000000000000000",
    "0.000000000000000001",
    "3.14159265358979323846264338327950288",
    "1" + "0" * 400,
    "9" * 5000,
    "1e1000000000000000000",
)

# Numbers as JSON numbers, including ones JSON parsers disagree on.
NUMBER_LITERALS: tuple[Tree, ...] = (
    0,
    -1,
    1,
    1.5,
    -0.0,
    2**63 - 1,
    raw("-0"),
    raw("1e999999999"),
    raw("-1e999999999"),
    raw("1E-400"),
    raw("1e308"),
    raw("4.9e-324"),
    raw("18446744073709551616"),
    raw("-9223372036854775809"),
    raw("123456789012345678901234567890123"),
    raw("9" * 400),
    raw("0." + "0" * 400 + "1"),
)

# Epoch milliseconds, sane and not: year 10000, 400 digits, seconds for milliseconds.
TIMES: tuple[Tree, ...] = (
    0,
    -1,
    1,
    SAMPLE_MS,
    SAMPLE_MS // 1000,
    SAMPLE_MS * 1000,
    YEAR_10000_MS,
    YEAR_10000_MS - 1,
    2**53,
    2**63 - 1,
    -(2**63),
    raw(str(2**64)),
    raw("9" * 400),
    raw("1" + "0" * 400),
    raw("1e999999999"),
    "1762199100000",
    "-1762199100000",
    "1762199100000.5",
    1762199100000.5,
    str(YEAR_10000_MS),
    "9" * 400,
    "9" * 5000,
    "0" * 30 + "1",
)

TEXTS: tuple[Tree, ...] = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\r",
    "\u00e9",
    "e\u0301",
    "🚀",
    "\u202e",
    "\ufffd",
    "\ufeff",
    "x" * 10_000,
    "%s%n{0}",
    "' OR 1=1 --",
    'a"b',
    "a\\b",
    "..",
    "null",
    "MAIN",
)

SCALARS: tuple[Tree, ...] = (None, True, False, [], {}, [[]], [{}], {"": None})

NESTED: tuple[Tree, ...] = (
    deep(8),
    deep(64),
    deep(255),
    deep(256),
    deep(300),
    deep(1024),
    deep(256, "object"),
    deep(1024, "object"),
    [None] * 1000,
    {f"k{i}": i for i in range(500)},
)

ANY_VALUES: tuple[Tree, ...] = (
    SCALARS + TEXTS + NUMERIC_LOOKALIKES + DECIMAL_TEXTS + NUMBER_LITERALS + TIMES + NESTED
)

QUANTITIES: tuple[Tree, ...] = DECIMAL_TEXTS + NUMERIC_LOOKALIKES + NUMBER_LITERALS + SCALARS
INTEGERS: tuple[Tree, ...] = TIMES + NUMERIC_LOOKALIKES + SCALARS + (2, 3, 1.0, "1", "01")
CURSORS: tuple[Tree, ...] = (
    "",
    "x",
    "cursor-2",
    "0",
    "page%3D2",
    "\x00",
    "x" * 300_000,
    None,
    0,
    [],
    {},
    True,
)


def names(text: str) -> tuple[str, ...]:
    """Field names written as words."""
    return tuple(text.split())


def choices(*valid: str) -> tuple[Tree, ...]:
    """Values for a field that takes one of ``valid``: every valid one, and near misses."""
    near: list[Tree] = []
    for value in valid:
        near += [value.lower(), value.upper(), value + " ", value + "\x00"]
    return (*valid, *near, "", None, 0, True, ["x"], "\ufffd")


FIELD_VALUES: dict[str, tuple[Tree, ...]] = {
    **dict.fromkeys(
        names(
            "size szi qty sz origSz execQty cumExecQty leavesQty closedSize price execPrice"
            " entryPrice avgPrice markPrice entryPx limitPx px triggerPx triggerPrice usdc"
            " execFee fee cumExecFee unrealisedPnl unrealizedPnl cumRealisedPnl totalEquity"
            " totalWalletBalance totalAvailableBalance accountValue"
            # Aster's: positionRisk, orders, trades, income, account; the events' short names
            " positionAmt origQty executedQty stopPrice unRealizedProfit liquidationPrice"
            " commission realizedPnl income totalMarginBalance walletBalance"
            " pa ep up cr iw q p ap sp l z L n rp wb mp"
        ),
        QUANTITIES,
    ),
    **dict.fromkeys(
        names(
            "at updatedTime execTime createdTime time timestamp statusTimestamp creationTime"
            " serverTime updateTime E T"
        ),
        TIMES + NUMERIC_LOOKALIKES + SCALARS,
    ),
    **dict.fromkeys(names("seq oid tid retCode attempt i t id code tranId"), INTEGERS),
    "status": (
        *INTEGERS,
        *(0, 200, 403, 418, 429, 500),
        *choices("open", "filled", "canceled", "triggered", "marginCanceled"),
        *choices("NEW", "FILLED", "EXPIRED"),
        *choices("order", "unknownOid"),
    ),
    **dict.fromkeys(("positionIdx", "position_idx"), (0, 1, 2, 3, -1, *INTEGERS)),
    **dict.fromkeys(("cursor", "nextPageCursor"), CURSORS),
    **dict.fromkeys(
        names(
            "symbol coin account user orderId orderLinkId execId cloid position_id"
            " order_link_id operator stream reason id hash"
        ),
        TEXTS + SCALARS,
    ),
    "side": choices("Buy", "Sell", "B", "A", "BUY", "SELL"),
    "S": choices("BUY", "SELL"),
    **dict.fromkeys(("positionSide", "ps"), choices("BOTH", "LONG", "SHORT")),
    "X": choices("NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "EXPIRED", "NEW_ADL"),
    "x": choices("NEW", "TRADE", "CALCULATED", "CANCELED", "EXPIRED"),
    "e": choices("ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE", "MARGIN_CALL", "listenKeyExpired"),
    "c": choices("autoclose-1596107620040000020", "adl_autoclose", "p-1-entry"),
    "incomeType": choices("FUNDING_FEE", "COMMISSION", "TRANSFER"),
    **dict.fromkeys(("marginType", "mt"), choices("isolated", "cross", "CROSSED")),
    "channel": choices("ws", "rest", "intent", "operator", "feed", "clock", "error"),
    "venue": choices("bybit", "hyperliquid", "aster"),
    "kind": choices(
        "account_mode",
        "position_opened",
        "position_resized",
        "position_closed",
        "order_placed",
        "order_cancelled",
    ),
    "mode": choices("LIVE", "PAPER", "BACKTEST"),
    "purpose": choices("ENTRY", "TP1", "TP2", "SL"),
    "orderStatus": choices(
        "New", "PartiallyFilled", "Filled", "Cancelled", "Rejected", "Triggered", "Deactivated"
    ),
    "topic": choices("position", "order", "execution", "wallet", "execution.fast", "position.x"),
    "endpoint": choices(
        "/v5/position/list",
        "/v5/order/realtime",
        "/v5/order/history",
        "/v5/execution/list",
        "clearinghouseState",
        "openOrders",
        "userFills",
        "orderStatus",
        "/fapi/v2/positionRisk",
        "/fapi/v3/positionRisk",
        "/fapi/v1/openOrders",
        "/fapi/v1/userTrades",
        "/fapi/v1/income",
        "/fapi/v4/account",
    ),
    "category": choices("linear", "inverse", "spot", "option", "perp"),
    "exit_reason": choices("TP2", "STALE_CLEANUP", "MANUAL_CLEANUP"),
    "action": choices("clean_position"),
    "event": choices("reconnected", "connected", "down"),
    "type": choices("oneWay", "cross", "isolated", "clearinghouseState"),
    "stopOrderType": choices("StopLoss", "TakeProfit", "PartialStopLoss", "tpslOrder"),
    "execType": choices("Trade", "Funding", "BustTrade", "AdlTrade", "Settle"),
    "positionStatus": choices("Normal", "Liq", "Adl"),
}
