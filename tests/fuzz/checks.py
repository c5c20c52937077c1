"""One session: lines through decode, the stored form, one reconciler and the reads, checked.

Every exception and every invariant that does not hold becomes a Crash; the session goes on
with the next line, so one run finds every kind of crash there is, not just the first.
"""

import io
import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.fuzz import reads, safety_nets
from tests.fuzz.crashes import Crash, broken, from_exception
from trueup.adapters.capture import decode_line
from trueup.adapters.store import codec
from trueup.domain.bounds import name_fault
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent, InputRejected
from trueup.domain.keys import POSITION_IDXS
from trueup.domain.reconciler import Reconciler

SLOW_S = 5.0  # a line (or a session's reads) taking longer is a crash: input that stalls ingest


class TooSlow(BaseException):
    """Raised into whatever runs past SLOW_S; a BaseException, so no handler swallows it."""


@dataclass
class Count:
    """What became of the lines: every non-blank one must end as exactly one event."""

    lines: int = 0
    blank: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    emitted: int = 0
    lost: int = 0

    def add(self, other: "Count") -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Session:
    """A run of lines through one reconciler, so state builds up as it would in a journal."""

    def __init__(self) -> None:
        self.reconciler = Reconciler(contain_faults=False)
        self.lines: list[bytes] = []
        self.events: list[InputEvent] = []
        self.first_line: dict[str, bytes] = {}
        self.emitted: dict[str, bytes] = {}
        self.count = Count()
        self.crashes: list[Crash] = []
        self.out = io.StringIO()
        safety_nets.keep_logged_errors()
        safety_nets.logged_errors()  # what earlier sessions left is theirs

    def check_lines(self, lines: list[bytes]) -> list[Crash]:
        """Every line checked, then the reads over the state they left."""
        for line in lines:
            self.check_line(line)
        with self._limit():
            self.check_reads()
        self._logged()
        return self.crashes

    def check_line(self, line: bytes) -> None:
        """One line through the whole input path, as ``trueup ingest`` and the projection go."""
        self.lines.append(line)
        self.count.lines += 1
        with self._limit():
            self._check(line)
        self._logged()

    def _check(self, line: bytes) -> None:
        event = self._decoded(line)
        if event is None or not self._new_input(line, event):
            return
        stored = self._stored_form(event)
        if stored is not None:
            self.events.append(stored)
            self._fold(stored)

    def check_reads(self) -> None:
        """The read commands over the session's state and events."""
        checks: tuple[Callable[[], None], ...] = (
            lambda: reads.positions(self.reconciler, self.out),
            lambda: reads.audits(self.events, self.out),
            lambda: reads.verdicts(self.reconciler, self.events, self.out),
            self._check_keys,
        )
        for check in checks:
            with self._stage("reads"):
                check()
        self.out = io.StringIO()

    # --- the invariants ----------------------------------------------------------------------

    def _decoded(self, line: bytes) -> InputEvent | None:
        """The line's one event, counted; None for a blank line, or one that yields none."""
        decoded: object = None
        with self._stage("decode"):
            decoded = decode_line(line)
        if not line.strip():
            self.count.blank += 1  # ingest skips it
            return None
        if not isinstance(decoded, InputEvent):
            self.count.lost += 1
            if decoded is not None:
                self._broken("count", "not an input event", type(decoded).__name__, "")
            return None
        if isinstance(decoded, InputRejected):
            self.count.rejected += 1
            if not decoded.reason.strip():
                self._broken("decode", "rejected without a reason", "InputRejected", repr(decoded))
        else:
            self.count.accepted += 1
        return decoded

    def _new_input(self, line: bytes, event: InputEvent) -> bool:
        """Distinct lines get distinct ids; a line seen before is stored once, not twice."""
        first = self.first_line.get(event.input_id)
        if first is None:
            self.first_line[event.input_id] = line
            return True
        if same_input(first, line):
            self.count.duplicates += 1
            return False
        self.count.lost += 1
        case = "invalid UTF-8" if not (_utf8(first) and _utf8(line)) else "canonical JSON"
        detail = f"{first!r} and {line!r} both have input id {event.input_id}"
        self.crashes.append(broken("ids", "input id collision", case, detail, (first, line)))
        return False

    def _stored_form(self, event: InputEvent) -> InputEvent | None:
        """The event as the journal gives it back; it must equal the event appended."""
        with self._stage("stored form"):
            state = codec.encode(event)
            back = codec.decode(state)
            codec.as_json(event)
            if back != event:
                self._broken("stored form", "decoded event differs", event.type, f"{event!r}")
            elif codec.encode(back) != state:
                self._broken("stored form", "stored form not stable", event.type, repr(state))
            for symbol in event.symbols or ():
                if not codec.mentions(state, symbol):
                    detail = f"{event.type}: symbol {symbol!r} not found in {state[:200]!r}"
                    self._broken("stored form", "symbol filter misses it", "codec.mentions", detail)
            return back
        return None

    def _fold(self, event: InputEvent) -> None:
        emitted: list[Emitted] = []
        with self._stage("fold"):
            emitted = self.reconciler.apply(event)
        with self._stage("reads"):
            reads.list_event(event, self.out)
        for one in emitted:
            self.count.emitted += 1
            with self._stage("emitted"):
                self._check_emitted(one)
            with self._stage("reads"):
                reads.list_event(one, self.out)

    def _check_emitted(self, event: Emitted) -> None:
        event_id = event.event_id
        state = codec.encode_emitted(event)
        back = codec.decode_emitted(state)
        codec.as_json(event)
        if back != event:
            self._broken("emitted", "decoded event differs", event.type, repr(event))
        seen = self.emitted.get(event_id)
        if seen is None:
            self.emitted[event_id] = state
        else:
            kind = "emitted twice" if seen == state else "emitted id collision"
            self._broken("emitted", kind, event.type, f"{event_id}: {seen!r} and {state!r}")

    def _check_keys(self) -> None:
        """Every position key the books hold fits both stores' view columns: PostgreSQL's
        text holds no NUL and its INTEGER 32 bits, where SQLite takes either."""
        for book in self.reconciler.books.values():
            for key in book.positions:
                if name_fault(key.symbol) or name_fault(key.category):
                    self._broken("fold", "a key's name no store takes", "PositionKey", repr(key))
                if key.position_idx not in POSITION_IDXS:
                    self._broken("fold", "a key's leg is not 0, 1 or 2", "PositionKey", repr(key))

    # --- recording -------------------------------------------------------------------------

    @contextmanager
    def _limit(self) -> Iterator[None]:
        """Stop what runs past SLOW_S and record where it was (main thread only: signals)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGALRM, _too_slow)
        signal.setitimer(signal.ITIMER_REAL, SLOW_S)
        try:
            yield
        except TooSlow as error:
            self.crashes.append(from_exception("slow", error, tuple(self.lines)))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    @contextmanager
    def _stage(self, stage: str) -> Iterator[None]:
        try:
            yield
        except Exception as error:
            self.crashes.append(from_exception(stage, error, tuple(self.lines)))

    def _logged(self) -> None:
        """What trueup caught and logged to go on is a crash all the same."""
        for error in safety_nets.logged_errors():
            self.crashes.append(from_exception("caught and logged", error, tuple(self.lines)))

    def _broken(self, stage: str, invariant: str, case: str, detail: str) -> None:
        self.crashes.append(broken(stage, invariant, case, detail, tuple(self.lines)))


def _too_slow(signum: int, frame: object) -> None:
    raise TooSlow(f"over {SLOW_S} s")


def same_input(first: bytes, second: bytes) -> bool:
    """Whether two lines are one input: the same bytes, or the same JSON value exactly."""
    first, second = first.rstrip(b"\r\n"), second.rstrip(b"\r\n")
    if first == second:
        return True
    value = _exact_value(first)
    return value is not None and value == _exact_value(second)


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _exact_value(line: bytes) -> object | None:
    """The JSON value of a line with numbers exact and types apart (1, 1.0, true differ)."""
    try:
        parsed = json.loads(line.decode("utf-8"), parse_float=Decimal, parse_constant=_refuse)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    try:
        return _tagged(parsed)
    except RecursionError:
        return None


def _refuse(name: str) -> None:
    raise ValueError(name)


def _tagged(value: Any) -> object:
    if isinstance(value, dict):
        return ("object", tuple(sorted((key, _tagged(item)) for key, item in value.items())))
    if isinstance(value, list):
        return ("array", tuple(_tagged(item) for item in value))
    return (type(value).__name__, value)
