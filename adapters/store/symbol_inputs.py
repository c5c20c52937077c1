"""An account's stored inputs that may concern one symbol, found by a full read of the
account (the audit of an account its index does not cover), in one pass.

An order placed for a position is that position's whatever symbol it spells, as the book
ties it by the position's id (``btcusdt``, ccxt's ``BTC/USDT:USDT``): one placed after its
position was opened for the symbol concerns it; one placed before its position was opened
concerns the symbol of the position's first opening (the book ignores a later one), which
is found by reading ahead. The rows read ahead are kept, not read again; as the audit
index files them (audit_index.py).
"""

from collections import deque
from collections.abc import Callable, Iterator

from trueup.adapters.store import codec
from trueup.adapters.store.row_queries import StreamRow
from trueup.domain.events import InputEvent, LocalPositionOpened, OrderPlaced, PricesReported

# A row that may concern the symbol: its position in the journal, its input, and whether it
# does, or None for an order placed before its position was opened (its first opening says).
Candidate = tuple[int, InputEvent, bool | None]


class SymbolInputs:
    """The inputs of an account stream's ``rows`` that may concern ``symbol``, in order,
    each with its position in the journal."""

    def __init__(
        self,
        rows: Iterator[StreamRow],
        symbol: str,
        decoded: Callable[[StreamRow], InputEvent | None],
    ) -> None:
        self._rows = rows
        self._symbol = symbol
        self._decoded = decoded
        # Whether the inputs that do not concern the symbol are wanted too, for their
        # instants (an audit while a close awaits its cause), asked as each row is read:
        # given to ``marked``.
        self._passing: Callable[[], bool] | None = None
        # Rows read ahead: candidates, and (while ``passing`` is given) the other rows,
        # undecoded until whether they are wanted is known.
        self._ahead: deque[Candidate | StreamRow] = deque()
        self._opened_for: dict[str, list[str]] = {}  # position id -> symbols, first first

    def __iter__(self) -> Iterator[tuple[int, InputEvent]]:
        for position, event, concerns in self.marked():
            if concerns:
                yield position, event

    def marked(
        self, passing: Callable[[], bool] | None = None
    ) -> Iterator[tuple[int, InputEvent, bool]]:
        """The inputs that concern the symbol, each with True; and, while ``passing`` says
        so, those that do not, with False."""
        self._passing = passing
        while (candidate := self._next()) is not None:
            if isinstance(candidate, StreamRow):  # read ahead, of no concern to the symbol
                if passing is not None and passing():
                    passed = self._decoded(candidate)
                    if passed is not None:
                        yield candidate.position, passed, False
                continue
            position, event, concerns = candidate
            if concerns is None and isinstance(event, OrderPlaced):
                concerns = self._first_opened_for(event.position_id) == self._symbol
            if concerns:
                yield position, event, True
            elif passing is not None and passing():
                yield position, event, False

    def _next(self) -> Candidate | StreamRow | None:
        return self._ahead.popleft() if self._ahead else self._read()

    def _first_opened_for(self, position_id: str) -> str | None:
        """The symbol ``position_id`` is first opened for, reading ahead as far as that
        takes; None if it never is."""
        while position_id not in self._opened_for:
            candidate = self._read(ahead=True)
            if candidate is None:
                return None
            self._ahead.append(candidate)
        return self._opened_for[position_id][0]

    def _read(self, *, ahead: bool = False) -> Candidate | StreamRow | None:
        """The next row that may concern the symbol, decoded; or one that does not, while
        ``passing`` wants those: decoded, or (read ahead, when whether they are wanted
        is asked only as they come) as it is."""
        symbol = self._symbol
        for row in self._rows:
            state = row.state
            named = codec.mentions(state, symbol)
            opening = codec.is_type(state, LocalPositionOpened.type)
            quoting = codec.is_type(state, PricesReported.type)
            if not (named or opening or quoting or codec.is_type(state, OrderPlaced.type)):
                if self._passing is None:
                    continue
                if ahead:
                    return row
                if not self._passing():
                    continue
                event = self._decoded(row)
                if event is None:
                    continue
                return row.position, event, False
            event = self._decoded(row)
            if event is None:
                continue
            concerns: bool | None = named
            if isinstance(event, PricesReported):
                # Its head names no symbol (the views take only the held keys a mark moves),
                # yet the audit weighs a position at the mark of its instant.
                concerns = named or any(quote.symbol == symbol for quote in event.quotes)
            elif isinstance(event, LocalPositionOpened):
                self._opened_for.setdefault(event.position_id, []).append(event.symbol)
            elif not named and isinstance(event, OrderPlaced):
                opened = self._opened_for.get(event.position_id)
                concerns = None if opened is None else symbol in opened
            return row.position, event, concerns
        return None
