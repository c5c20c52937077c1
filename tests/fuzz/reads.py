"""The read commands' output, written from in-memory state to a StringIO.

``list_event`` is one line of ``trueup events`` (text and --json); ``read_models`` is what
positions (as rows and in ccxt's structure), summary, audit, can-open and fix-stale
--dry-run show, without a journal.
"""

import io
from collections.abc import Iterator, Sequence

from trueup.adapters.store import codec
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.can_open_facts import can_open
from trueup.domain.rules.findings import stale_positions
from trueup.domain.vocabulary import PositionSide
from trueup.projections import view_building, views
from trueup.projections.audit import audit
from trueup.projections.ccxt import ccxt_position
from trueup.projections.positions import position_rows
from trueup.projections.summary import summarise
from trueup.runners import output

MAX_SYMBOLS = 6


def list_event(event: InputEvent | Emitted, out: io.StringIO) -> None:
    """What ``trueup events`` prints for one stored event, both as text and as JSON."""
    symbols = (event.symbol,) if isinstance(event, Emitted) else event.symbols
    named = tuple(s for s in symbols or () if s)
    record = codec.as_json(event)
    record["symbol"] = named[0] if len(named) == 1 else None
    output.write_json(record, out)
    where = f"{event.venue}/{event.account}" if event.venue else "-"
    detail = output.describe_emitted(event) if isinstance(event, Emitted) else ""
    when = output.moment(event.at)
    out.write(f"{when}  {event.type:<22} {where}  {' '.join(named)}  {detail}\n")


def positions(reconciler: Reconciler, out: io.StringIO) -> None:
    """``trueup positions``, as text and as JSON lines."""
    rows = position_rows(reconciler)
    output.print_positions(rows, out)
    for row in rows:
        output.write_json(row, out)
        output.write_json(ccxt_position(row), out)
    built = list(view_building.every_view(reconciler))
    found = summarise(
        [v for v in built if isinstance(v, views.AccountView)],
        [v for v in built if isinstance(v, views.SymbolView)],
    )
    output.print_summary(found, out)
    output.write_json(found.as_json(), out)


def audits(events: Sequence[InputEvent], out: io.StringIO) -> None:
    """``trueup audit`` of each symbol the events name, now and as of their middle."""
    middle = events[len(events) // 2].at if events else None
    for venue, account, symbol in targets(events):
        mine = [e for e in events if (e.venue, e.account) == (venue, account)]
        for as_of in (None, middle):
            result = audit(venue, account, enumerate(mine, 1), symbol=symbol, as_of=as_of)
            output.print_audit(result, out)
            if len(result.keys) == 1:
                output.write_json(output.audit_json(result), out)


def verdicts(reconciler: Reconciler, events: Sequence[InputEvent], out: io.StringIO) -> None:
    """``trueup can-open`` for each symbol, and ``fix-stale --dry-run``'s list."""
    now = max((e.at for e in events), default=0)
    for venue, account, symbol in targets(events):
        book = reconciler.books.get((venue, account))
        if book is None:
            continue
        detectors = reconciler.detectors_by_account[(venue, account)]
        for side in (None, PositionSide.LONG, PositionSide.SHORT):
            verdict = can_open(book, detectors, symbol, now, side=side)
            output.write_json(
                {"allowed": verdict.allowed, "reasons": verdict.reasons, "notes": verdict.notes},
                out,
            )
    for (venue, account), book in sorted(reconciler.books.items()):
        detectors = reconciler.detectors_by_account[(venue, account)]
        for position_id, why in stale_positions(book, detectors):
            out.write(f"{venue}/{account} {position_id}: {why}\n")


def targets(events: Sequence[InputEvent]) -> list[tuple[str, str, str]]:
    """(venue, account, symbol) of the first few symbols the events name."""
    return list(dict.fromkeys(_named(events)))[:MAX_SYMBOLS]


def _named(events: Sequence[InputEvent]) -> Iterator[tuple[str, str, str]]:
    for event in events:
        for symbol in event.symbols or ():
            if event.venue and symbol:
                yield (event.venue, event.account, symbol)
