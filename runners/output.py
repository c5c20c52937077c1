"""How results look to people (text) and to programs (JSON, decimals as strings)."""

import sys
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TextIO

import msgspec
import orjson

from trueup.adapters.store.codec import as_json, event_json, named_symbols
from trueup.domain.bounds import MAX_FRACTION_DIGITS
from trueup.domain.emitted import Emitted, PositionCleaned
from trueup.domain.events import InputEvent, InputRejected
from trueup.domain.instants import iso
from trueup.domain.pnl_records import ClosedPosition
from trueup.domain.position import ABSENT
from trueup.domain.vocabulary import Whose
from trueup.projections.position_json import JSON, pnl_state, risk_json

# The positions' unrealised PnL that is the venue's own figure, not trueup's (domain/pnl.py).
VENUE_FIGURE = Whose.VENUE.value
# A closed lifecycle whose figures are of trueup's fills alone (``ClosedPosition.partial``).
PARTIAL_RECORD = (
    ", partial: the venue held more than trueup's fills (a fill not seen, or a position from"
    " before)"
)
ADDRESS_LENGTH = 42  # an EVM address, as Hyperliquid names its accounts: 0x and 40 hex digits
ADDRESS_START = 10  # what its column shows of one: 0x and 8 hex digits, when that tells it apart

if TYPE_CHECKING:  # only the commands that print these load what makes them
    from trueup.domain.rules.local_closes import Close
    from trueup.projections.audit import Audit, TimelineEntry
    from trueup.projections.summary import Summary

# What matters most in each emitted event, in the order people read it.
_DETAIL_FIELDS = (
    "position_id",
    "exit_reason",
    "reason",
    "until",
    "exchange_qty",
    "client_order_id",
    # A trigger's: which, and the order it decided (TRIGGER_FIRED, ORDER_REQUESTED).
    "trigger_id",
    "action",
    "order_side",
    "quantity",
    "level",
    "price",
    "requested_by",
)


def moment(at: int) -> str:
    """Epoch milliseconds as people read them: ISO 8601, UTC."""
    return iso(at)


def _seq(exchange: JSON) -> str:
    """The report's seq, where the venue gave one, else when it was updated. A negative seq
    says there is none (Bybit's -1 for a symbol never traded, and trueup's for a key a
    snapshot found flat before any report): not shown. Nor is the seq a key a snapshot found
    flat keeps (its last report's, to order the pushes after it): the snapshot said, by
    leaving the key out or by listing it flat (position.py's ABSENT, for either)."""
    if exchange["status"] == ABSENT:
        return f" (by the snapshot of {moment(exchange['updated_time'])})"
    seq = exchange["seq"]
    if seq is not None and seq >= 0:
        return f" (seq {seq})"
    return f" (updated {moment(exchange['updated_time'])})"


def write_json(value: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    out.write(orjson.dumps(value, default=str).decode())
    out.write("\n")


def describe_state(state: JSON) -> str:
    exchange = state["exchange"]
    if exchange is None:
        there = "exchange: never seen"
    elif not exchange["side"] or not Decimal(exchange["size"]):
        there = f"exchange: flat{_seq(exchange)}"
    else:
        there = (
            f"exchange: {exchange['side']} {_shown(exchange['size'])} @ "
            f"{_shown(exchange['entry_price'])}{_seq(exchange)}"
        )
    local = state["local"]
    open_ids = [
        f"{p['position_id']} {p['mode']} {p['side']} {_shown(p['qty'])} TP1 {p['tp1']}"
        for p in local["positions"]
        if p["status"] == "OPEN"
    ]
    mine = f"local: {_shown(local['qty'])}" + (f" [{'; '.join(open_ids)}]" if open_ids else "")
    return f"{there} | {mine}"


def describe_risk(risk: JSON) -> str:
    """A held position's leverage, liquidation, margins and score, as one line."""
    leverage = _shown(risk["leverage"])
    if risk["leverage_source"] == "margin":
        leverage += " (notional / initial margin)"
    liquidation = "none shown"
    if risk["liq_price"] is not None:
        liquidation = f"{risk['liq_price']} ({_percent(risk['liquidation_distance'])} away)"
    margin = f"initial {_shown(risk['initial_margin'])}, maintenance "
    margin += _shown(risk["maintenance_margin"])
    if risk["margin_mode"] is not None:
        margin += f" ({risk['margin_mode']})"
    flags = [
        f
        for f, on in (("HIGH", risk["high"]), ("NEAR LIQUIDATION", risk["near_liquidation"]))
        if on
    ]
    return (
        f"score {risk['score']}{' ' + ', '.join(flags) if flags else ''}; leverage {leverage}; "
        f"liquidation {liquidation}; margin {margin}; notional {_shown(risk['notional'])}, "
        f"concentration {_shown(risk['concentration'])} of equity {_shown(risk['equity'])}"
    )


def _at_venue(life: JSON) -> str:
    """What the venue holds of an open lifecycle, where its fills do not say so."""
    if life["closed_at_venue"]:
        return ", flat at the venue (its closing fill not seen)"
    if life["differs_at_venue"]:
        return (
            ", another position at the venue (another size or entry: a fill not seen, or a"
            " position held from before)"
        )
    return ""


def describe_pnl(pnl: JSON) -> str:
    """A key's PnL as `positions --json` gives it (``pnl_state``), in one line; the venue's own
    unrealised figure marked as such."""
    whose = " (the venue's)" if pnl.get("unrealised_source") == VENUE_FIGURE else ""
    life = pnl.get("open")
    opened = (
        f"; open lifecycle {life['lifecycle']} {life['side']} {_shown(life['size'])}"
        + _at_venue(life)
        if life
        else ""
    )
    return (
        f"unrealised {_shown(pnl.get('unrealised_pnl'))}{whose} at mark "
        f"{_shown(pnl.get('mark_price'))}; realised {_shown(pnl.get('realised_pnl'))}, "
        f"fees {_shown(pnl.get('fees'))}, funding {_shown(pnl.get('funding'))}"
        f"{' ' + pnl['coin'] if pnl.get('coin') else ''}{opened}"
    )


def timeline_line(entry: "TimelineEntry", result: "Audit") -> str:
    kind = entry.type + (f"({entry.source})" if entry.source else "")
    closes = "".join(
        f" | closed by {_close(e)}"
        if result.emitted(e)
        else f" | closes, never emitted: {_close(e)}"
        for e in entry.closed_by
    )
    return f"  {moment(entry.at)}  {kind:<26} {describe_state(entry.state)}{closes}"


# Said once under an audit that holds a close the reconciler never emitted.
NEVER_EMITTED = (
    "  never emitted: the inputs dated by then add up to that close, but trueup took some of "
    "them after later inputs (stored out of time order), or has not taken them yet, and "
    "emitted no such event\n"
)


def _close(event: "Close") -> str:
    """The event that closed a local position, as one phrase: its type, the position, why."""
    why = event.exit_reason
    if isinstance(event, PositionCleaned):
        why += f" by {event.operator}"
    return f"{event.type} {event.position_id} ({why})"


def print_audit(result: "Audit", out: TextIO | None = None) -> None:
    out = out or sys.stdout
    for key in result.keys:
        out.write(f"{key.label()}\n")
        for entry in result.timeline:
            if entry.key == key:
                out.write(timeline_line(entry, result) + "\n")
        if any(
            not result.emitted(close)
            for entry in result.timeline
            if entry.key == key
            for close in entry.closed_by
        ):
            out.write(NEVER_EMITTED)
        when = f"as of {moment(result.as_of)}" if result.as_of is not None else "now"
        out.write(f"  {when}: {describe_state(result.state(key))}\n")
        pnl = pnl_state(result.book, key)
        if pnl:
            out.write(f"  pnl: {describe_pnl(pnl)}\n")
        risk = risk_json(result.risk(key))
        if risk is not None:
            out.write(f"  risk: {describe_risk(risk)}\n")


def audit_json(result: "Audit") -> JSON:
    """One object per DESIGN.md: ``state`` and ``timeline`` (of the single key asked), with
    the key's ``pnl`` and ``risk`` as of the instant asked, as `positions` shows them."""
    keys = result.keys
    key = keys[0]
    return {
        "venue": key.venue,
        "account": key.account,
        "category": key.category,
        "symbol": key.symbol,
        "position_idx": key.position_idx,
        "as_of": result.as_of,
        "state": result.state(key),
        "pnl": pnl_state(result.book, key),
        "risk": risk_json(result.risk(key)),
        "timeline": [
            {
                "at": e.at,
                "type": e.type,
                "source": e.source,
                "input_id": e.input_id,
                "state": e.state,
                "closed_by": [as_json(said) for said in e.closed_by if result.emitted(said)],
                "closes_not_emitted": [
                    as_json(said) for said in e.closed_by if not result.emitted(said)
                ],
            }
            for e in result.timeline
            if e.key == key
        ],
    }


def none_found(what: str, matching: Mapping[str, str | None] | None) -> str:
    """The line that says nothing was found: ``matching``, the filters asked for (by
    option), named."""
    asked = " ".join(f"--{option} {value}" for option, value in (matching or {}).items() if value)
    return f"no {what} in the journal" + (f" matching {asked}" if asked else "") + "\n"


def print_positions(
    rows: list[JSON], out: TextIO | None = None, matching: Mapping[str, str | None] | None = None
) -> None:
    """The positions as a table; ``matching``: the filters asked for (by option), named
    when nothing matched them."""
    out = out or sys.stdout
    if not rows:
        out.write(none_found("positions", matching))
        return
    accounts, width = _account_column((row["venue"], row["account"]) for row in rows)
    header = (
        f"{'account':<{width}} {'symbol':<12} {'idx':>3} {'local':>12} {'exchange':>12} "
        f"{'unrealised':>12} {'realised':>12} {'lev':>6} {'to liq':>8} {'score':>6}  status"
    )
    out.write(header + "\n")
    from_venue = False
    for row, account in zip(rows, accounts, strict=True):
        status = "; ".join(row["findings"]) or "OK"
        pnl = row.get("pnl") or {}
        risk = row.get("risk") or {}
        unrealised = _shown(pnl.get("unrealised_pnl"))
        if pnl.get("unrealised_source") == VENUE_FIGURE:
            unrealised += "*"
            from_venue = True
        out.write(
            f"{account:<{width}} {row['symbol']:<12} "
            f"{row['position_idx']:>3} {_shown(row['local_qty']):>12} "
            f"{_shown(row['exchange_qty']):>12} "
            f"{unrealised:>12} {_shown(pnl.get('realised_pnl')):>12} "
            f"{_shown(risk.get('leverage')):>6} {_percent(risk.get('liquidation_distance')):>8} "
            f"{_shown(risk.get('score')):>6}  {status}\n"
        )
    if from_venue:
        out.write(
            "unrealised: * the venue's own figure, from its last report of the position "
            "(trueup has not folded the fills that opened it, or has no mark, or the venue "
            "holds another position than its fills say: flat with no closing fill seen, or"
            " the same size at another entry after a close and a reopen not seen, say)\n"
        )


def _shown(value: object) -> str:
    """A figure as people read it: "-" where unknown, a decimal (or its text in a JSON
    document) in plain notation: 0.00000000 and 1500, never str()'s 0E-8 or 1.5E+3, nor
    zeros past the places any input carries."""
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return value
    else:
        return str(value)
    shown = f"{number:f}"
    if number.is_finite() and int(number.as_tuple().exponent) < -MAX_FRACTION_DIGITS:
        # No input carries more places: the PnL ledger's exact sums do, of shares rounded to
        # 1e-24 (domain/pnl.py), and their zeros there say nothing (3.000000000000000000000000
        # is 3). Only zeros go: 0.000000000000000000000001 keeps its digit.
        shown = shown.rstrip("0").rstrip(".")
    return shown


def _percent(fraction: object) -> str:
    """A fraction (a distance to liquidation) as people read it: 9.53%."""
    if fraction is None:
        return "-"
    return f"{Decimal(str(fraction)) * 100:.2f}%"


def _summed(summary: "Summary") -> bool:
    """Whether the summary holds any position or PnL (beside the accounts' balances)."""
    figures = (summary.realised_pnl, summary.fees, summary.funding, summary.unrealised_pnl)
    return bool(summary.positions or summary.unreported or summary.apart or any(figures))


def print_summary(
    summary: "Summary",
    out: TextIO | None = None,
    matching: Mapping[str, str | None] | None = None,
) -> None:
    """The portfolio as a risk officer reads it: totals, accounts, distribution, risk;
    ``matching`` as ``print_positions``'."""
    out = out or sys.stdout
    if not summary.accounts and any((matching or {}).values()):
        out.write(none_found("accounts", matching))
        return
    if (matching or {}).get("symbol") and not _summed(summary):
        # The accounts are listed whatever the symbol: their equity is no answer to it.
        out.write(none_found("positions or PnL", matching))
        return
    out.write(
        f"positions {summary.positions}, notional {_shown(summary.notional)}, "
        f"equity {_equity(summary)}\n"
        f"PnL: unrealised {_shown(summary.unrealised_pnl)}, "
        f"realised {_shown(summary.realised_pnl)}, fees {_shown(summary.fees)}, "
        f"funding {_shown(summary.funding)}, net {_shown(summary.net_pnl)}\n"
    )
    if summary.unreported:
        out.write(
            f"  not counted: {summary.unreported} position(s) trueup's fills opened that no"
            " report of the venue has named yet (positions lists them)\n"
        )
    if summary.unrealised_from_venue or summary.unrealised_unknown:
        out.write(
            f"  unrealised: the venue's own figure for {summary.unrealised_from_venue}, "
            f"unknown for {summary.unrealised_unknown} (no figure of the venue's, and no"
            " fills of trueup's with a mark to work one out from)\n"
        )
    accounts, width = _account_column((a.venue, a.account) for a in summary.accounts)
    out.write(
        f"\n{'account':<{width}} {'equity USD':>14} {'coin':>5} {'equity':>14} {'wallet':>14} "
        f"{'available':>14} {'init margin':>12} {'maint margin':>12} {'positions':>9} "
        f"{'unrealised':>12} {'realised':>12}\n"
    )
    for a, account in zip(summary.accounts, accounts, strict=True):
        w = a.wallet
        out.write(
            f"{account:<{width}} {_shown(a.equity):>14} "
            f"{(w and w.equity_coin) or '-':>5} {_shown(w and w.equity):>14} "
            f"{_shown(w and w.wallet_balance):>14} {_shown(w and w.available):>14} "
            f"{_shown(w and w.initial_margin):>12} {_shown(w and w.maintenance_margin):>12} "
            f"{a.positions:>9} {_shown(a.unrealised_pnl):>12} {_shown(a.realised_pnl):>12}\n"
        )
    distributions = (
        ("venue", summary.by_venue),
        ("symbol", summary.by_symbol),
        ("asset", summary.by_asset),
    )
    for title, exposures in distributions:
        out.write(f"\nby {title}: {'notional':>16} {'share':>8} {'long':>14} {'short':>14}\n")
        for e in exposures:
            out.write(
                f"  {e.name:<14} {_shown(e.notional):>16} {_percent(e.share):>8} "
                f"{_shown(e.long_notional):>14} {_shown(e.short_notional):>14}  ({e.positions})\n"
            )
    if summary.apart:
        out.write(
            f"\napart (no USD value in the rules' quote_equivalents; in its own coin):\n"
            f"  {'coin':<8} {'equity':>14} {'positions':>9} {'notional':>16} {'unrealised':>12} "
            f"{'realised':>12} {'fees':>10} {'funding':>10}\n"
        )
        for part in summary.apart:
            out.write(
                f"  {part.coin:<8} {_shown(part.equity):>14} {part.positions:>9} "
                f"{_shown(part.notional):>16} {_shown(part.unrealised_pnl):>12} "
                f"{_shown(part.realised_pnl):>12} {_shown(part.fees):>10} "
                f"{_shown(part.funding):>10}\n"
            )
    risk = summary.risk
    if risk is None:
        return
    out.write(
        f"\nrisk: max score {_shown(risk.max_score)}, average {_shown(risk.average_score)}; "
        f"{risk.high_risk} high-risk; {risk.near_liquidation} near liquidation\n"
        f"  leverage: average {_shown(risk.average_leverage)}, max {_shown(risk.max_leverage)}\n"
        f"  largest concentration: {_shown(risk.largest_concentration)}"
        + (f" ({risk.largest_concentration_of})" if risk.largest_concentration_of else "")
        + "\n"
    )


def _equity(summary: "Summary") -> str:
    """The accounts' equity in USD; where none was summed, why, rather than a 0."""
    if summary.equity is not None:
        return f"{_shown(summary.equity)} (in USD)"
    if any(a.wallet is not None for a in summary.accounts):
        return "- (none in USD: see apart)"
    return "- (no wallet reported)"


def closed_json(closed: ClosedPosition) -> JSON:
    """A closed lifecycle as `history --json` prints it: decimals as strings, instants as
    epoch milliseconds and, beside them, ISO 8601."""
    record: JSON = msgspec.to_builtins(closed)
    record["opened"] = moment(closed.opened_at)
    record["closed"] = moment(closed.closed_at)
    return record


def print_history(
    records: list[ClosedPosition],
    out: TextIO | None = None,
    matching: Mapping[str, str | None] | None = None,
) -> None:
    out = out or sys.stdout
    if not records:
        out.write(none_found("closed positions", matching))
        return
    accounts, width = _account_column((c.venue, c.account) for c in records)
    out.write(
        f"{'closed':<24} {'account':<{width}} {'symbol':<12} {'idx':>3} {'side':<5} "
        f"{'max size':>10} {'entry':>12} {'exit':>12} {'realised':>12} {'fees':>10} "
        f"{'funding':>10} {'net':>12}  exit reason\n"
    )
    for c, account in zip(records, accounts, strict=True):
        out.write(
            f"{moment(c.closed_at):<24} {account:<{width}} {c.symbol:<12} "
            f"{c.position_idx:>3} {c.side:<5} {_shown(c.max_size):>10} {_shown(c.avg_entry):>12} "
            f"{_shown(c.avg_exit):>12} {_shown(c.realised_pnl):>12} {_shown(c.fees):>10} "
            f"{_shown(c.funding):>10} {_shown(c.net_pnl):>12}  {c.exit_reason}"
            f"{PARTIAL_RECORD if c.partial else ''}{_fees_apart(c.fees_apart)}\n"
        )


def _fees_apart(fees: Mapping[str, Decimal]) -> str:
    """Fees a record paid in other coins, beside its columns (in none of them)."""
    if not fees:
        return ""
    return f" (and fees of {', '.join(f'{_shown(fee)} {coin}' for coin, fee in fees.items())})"


def print_diagnosis(report: JSON, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    symbol = report["symbol"]
    verdict = report["can_open"]
    out.write(f"{symbol}: {'may open' if verdict['allowed'] else 'may NOT open'}\n")
    for reason in verdict["reasons"]:
        out.write(f"  blocked: {reason}\n")
    for note in verdict["notes"]:
        out.write(f"  note: {note}\n")
    asked = moment(report["at"])
    if report["cooldown_until"] is not None:
        until = moment(report["cooldown_until"])
        if report["cooldown_over"]:
            out.write(f"  cooldown ended {until} (over as of {asked})\n")
        else:
            out.write(f"  cooldown until {until}\n")
    for position in report["positions"]:
        out.write(f"position idx {position['position_idx']}: {describe_state(position['state'])}\n")
        if position.get("pnl"):
            out.write(f"  pnl: {describe_pnl(position['pnl'])}\n")
        if position.get("risk") is not None:
            out.write(f"  risk: {describe_risk(position['risk'])}\n")
        for finding in position["findings"]:
            late = ""
            if finding in position["overdue"]:
                late = f" (overdue as of {asked}: judged at the account's next input)"
            out.write(f"  finding: {finding}{late}\n")
        for order in position["state"]["open_orders"]:
            out.write(
                f"  open order {order['client_order_id'] or order['venue_order_id']}: "
                f"{order['status']}, "
                f"filled {_shown(order['filled_qty'])}\n"
            )
    out.write("recent emitted events:\n")
    for event in report["emitted"]:
        detail = event.get("reason") or event.get("exit_reason") or ""
        out.write(f"  {moment(event['at'])}  {event['type']:<20} {detail}\n")
    out.write("recent rejected inputs (failed syncs, malformed frames):\n")
    for rejected in report["rejected_inputs"]:
        out.write(f"  {moment(rejected['at'])}  {rejected['reason']}\n")


def describe_emitted(event: Emitted) -> str:
    """The fields that say what happened, as ``name=value`` pairs."""
    parts = []
    for name in _DETAIL_FIELDS:
        value = getattr(event, name, None)
        if value is None or value == "" or (name == "reason" and hasattr(event, "exit_reason")):
            continue
        shown = moment(value) if name == "until" else value
        parts.append(f"{name}={shown}")
    return " ".join(parts)


def _is_address(account: str) -> bool:
    return len(account) == ADDRESS_LENGTH and account.startswith("0x")


def _address_start(addresses: set[str]) -> int:
    """How much of each Hyperliquid address its column shows: its first 8 hex digits, or as
    many more as tell apart the addresses listed together (two may share their start)."""
    shown = ADDRESS_START
    while shown < ADDRESS_LENGTH and len({a[:shown] for a in addresses}) < len(addresses):
        shown += 2
    return shown


def _account_column(named: Iterable[tuple[str, str]]) -> tuple[list[str], int]:
    """The account column of (venue, account) rows, and its width: its longest name
    (``hyperliquid/0x5e9ee108`` outgrows the 16 characters Bybit's and Aster's take), never
    narrower than those 16. An address is shown by its start, any other name whole."""
    rows = list(named)
    start = _address_start({account for _, account in rows if _is_address(account)})
    accounts = [
        f"{venue}/{account[:start] if _is_address(account) else account}" for venue, account in rows
    ]
    return accounts, max([16, *map(len, accounts)])


def describe_input(event: InputEvent) -> str:
    """What people need to know of an input on its line: why it was refused, if it was."""
    if isinstance(event, InputRejected):
        where = f" ({event.endpoint})" if event.endpoint else ""
        return f"reason={event.reason!r}{where}"
    return ""


def print_event(position: int, event: InputEvent | Emitted, *, as_json: bool) -> None:
    """One stored event on a line: for programs every field, for people the gist."""
    if as_json:
        write_json(event_json(position, event))
        return
    named = named_symbols(event)
    where = f"{event.venue}/{event.account}" if event.venue else "-"
    detail = describe_emitted(event) if isinstance(event, Emitted) else describe_input(event)
    print(
        f"{position:>8}  {moment(event.at)}  {event.type:<22} {where}  {' '.join(named)}  {detail}"
    )
