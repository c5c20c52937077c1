"""A session's lines through a real journal (SQLite's, or with ``on_postgresql`` a new
PostgreSQL database each), then the ``trueup`` read commands on it.

Ingested as ``trueup ingest`` does (the Ingestor, the projection catching up after each
batch); read back and compared (the inputs, and the emitted events and views with a
replay's); then ``events``, ``positions``, ``audit``, ``can-open``, ``diagnose`` and
``fix-stale --dry-run`` run through ``trueup.runners.cli.main``. And one session's lines in
a journal of their own, each symbol audited both ways (``audit_trip``).
"""

import io
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, redirect_stderr, redirect_stdout
from functools import partial
from pathlib import Path

from tests.fuzz import safety_nets
from tests.fuzz.crashes import Crash, broken, from_exception
from tests.fuzz.reads import targets
from trueup.adapters.capture import decode_line
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.application.ingest import IngestCount, Ingestor
from trueup.application.position_audit import audit_position
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent
from trueup.domain.reconciler import Reconciler
from trueup.projections import view_building, views
from trueup.projections.audit import Audit, audit, audit_marked
from trueup.projections.indexed_audit import audit_indexed
from trueup.projections.reconciliation import ReconciliationProjection
from trueup.projections.view_reader import ViewReader
from trueup.runners.cli import main
from trueup_simulators.postgres import fresh_database

# Inputs per ingest batch, each a step of the projection, its views written: many steps in a
# round trip, so that a view its state moved without touching is found stale.
STEP = 97
ANSWERS = (0, 1, 2)  # yes, no, bad usage: anything else from a read command is a crash


@contextmanager
def _sqlite_journal() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="trueup-fuzz-") as directory:
        yield f"sqlite://{Path(directory) / 'journal.db'}"


# Where each trip's journal is made: the URL of a new, empty one.
_new_journal: Callable[[], AbstractContextManager[str]] = _sqlite_journal


@contextmanager
def on_postgresql(server_url: str) -> Iterator[None]:
    """Every trip meanwhile (the minimiser's too) in a new database on the server: what
    PostgreSQL cannot hold that SQLite does (a NUL in text, a number beyond 32 bits)."""
    global _new_journal
    previous = _new_journal
    _new_journal = partial(fresh_database, server_url, "trueup_fuzz")
    try:
        yield
    finally:
        _new_journal = previous


def round_trip(lines: list[bytes], with_commands: bool = True) -> list[Crash]:
    """Every crash of storing ``lines`` in a fresh journal and reading them back (with the
    read commands too, unless ``with_commands`` is False)."""
    try:
        expected = [decode_line(line) for line in lines if line.strip()]
    except Exception:
        return []  # already a decode crash; nothing to compare the journal with
    safety_nets.keep_logged_errors()
    with _new_journal() as url:
        crashes = _ingest_and_compare(url, lines, expected)
        if with_commands:
            crashes += _read_commands(url, lines, expected)
    for error in safety_nets.logged_errors():
        crashes.append(from_exception("store, caught and logged", error, tuple(lines)))
    return crashes


def _ingest_and_compare(url: str, lines: list[bytes], expected: list[InputEvent]) -> list[Crash]:
    """Ingest as ``trueup ingest`` does, then hold the journal to what the lines say."""
    try:
        with Journal.open(url) as journal:
            projection = ReconciliationProjection(journal)
            ingestor = Ingestor(journal, batch_size=STEP, after_flush=projection.catch_up)
            count = ingestor.ingest(lines)
            return _compare(journal, count, expected, tuple(lines))
    except Exception as error:
        return [from_exception("store", error, tuple(lines))]


def _compare(
    journal: Journal, count: IngestCount, expected: list[InputEvent], lines: tuple[bytes, ...]
) -> list[Crash]:
    """The ingest's counts, the inputs read back and the emitted events recorded, each
    against what they must be."""
    problems: list[tuple[str, str, str]] = []  # invariant, case, detail
    unique = list(first_of_each(expected))
    if (count.lines, count.duplicates) != (len(expected), len(expected) - len(unique)):
        detail = f"{count} from {len(expected)} non-blank lines, {len(unique)} distinct"
        problems.append(("ingest miscounts", "Ingestor", detail))
    stored = list(_inputs(journal))
    difference = first_difference(unique, stored)
    if difference is not None:
        problems.append(("inputs read back differ", *difference))
    recorded = [codec.encode_emitted(e) for _, e in journal.all_events() if isinstance(e, Emitted)]
    reconciler = Reconciler()
    replayed = [codec.encode_emitted(e) for event in stored for e in reconciler.apply(event)]
    if recorded != replayed:
        detail = f"{len(recorded)} recorded by the projection, {len(replayed)} on replay"
        problems.append(("emitted differ from replay", "projection", detail))
    stale = _stale_view(journal, reconciler)
    if stale is not None:
        problems.append(("a view differs from a replay's", "views", stale))
    return [broken("store", invariant, case, detail, lines) for invariant, case, detail in problems]


def audit_trip(lines: list[bytes]) -> list[Crash]:
    """One session's lines appended to a fresh journal, then each symbol they name audited
    through the audit index and by a full read of its account (how an account an older
    trueup began is audited): the two must show the same, inputs stored out of time order
    or not (account_clock.py); and the audit `trueup audit` gives must show what folding
    every input of the account shows."""
    try:
        events = list(first_of_each([decode_line(line) for line in lines if line.strip()]))
    except Exception:
        return []  # already a decode crash
    crashes: list[Crash] = []
    with _new_journal() as url:
        try:
            with Journal.open(url) as journal:
                journal.append(events)
                for target in targets(events):
                    crashes += _audits_differ(journal, *target, tuple(lines))
        except Exception as error:
            crashes.append(from_exception("audit", error, tuple(lines)))
    return crashes


def _audits_differ(
    journal: Journal,
    venue: str,
    account: str,
    symbol: str,
    lines: tuple[bytes, ...],
) -> list[Crash]:
    clocks: dict[int, int] = {}
    index = journal.symbol_history(venue, account, symbol, clocks)
    if index is None:
        return [broken("audit", "no audit index", "journal", f"{venue}/{account}", lines)]
    rules, every_account = journal.rules_recorded(), journal.inputs_of_every_account
    indexed = audit_indexed(
        venue,
        account,
        index,
        symbol=symbol,
        clocks=clocks,
        rules=rules,
        every_account=every_account,
    )
    # The symbol's inputs, and the others' instants while a close awaits its cause.
    full = audit_marked(
        venue,
        account,
        journal.symbol_inputs(venue, account, symbol, clocks),
        symbol=symbol,
        clocks=clocks,
        rules=rules,
        every_account=every_account,
    )
    # What `trueup audit` answers (through the index, or the whole account where the index
    # marks the symbol tangled with another), against every input of the account folded.
    served = audit_position(journal, venue, account, symbol)
    every = journal.account_inputs(venue, account)
    folded = audit(venue, account, every, symbol=symbol, rules=rules, every_account=every_account)
    pairs = {
        "audit through the index differs from a full read": (indexed, full),
        "the audit differs from the account's whole fold": (served, folded),
    }
    found = []
    for invariant, (one, other) in pairs.items():
        if _shown(one) != _shown(other):
            detail = f"{venue}/{account} {symbol!r}: {one.timeline!r:.300}"
            detail += f" | {other.timeline!r:.300}"
            found.append(broken("audit", invariant, "audit", detail, lines))
    return found


def _shown(result: Audit) -> tuple[object, ...]:
    """What an audit shows: its timeline, and each key's state and risk as of its end."""
    timeline = [(t.at, t.type, t.input_id, t.key, t.state, t.closed_by) for t in result.timeline]
    return timeline, [(key, result.state(key), result.risk(key)) for key in result.keys]


def _stale_view(journal: Journal, reconciler: Reconciler) -> str | None:
    """The first view the projection wrote step by step that is not what the state of a
    replay (``reconciler``) gives (a symbol's view whose state moved untouched, say); None if
    every one is."""
    written = {(v.venue, v.account, v.symbol): v for v in ViewReader(journal).symbols()}
    for built in view_building.every_view(reconciler):
        if isinstance(built, views.SymbolView):
            found = written.pop((built.venue, built.account, built.symbol), None)
            if found != built:
                return f"written {found!r:.400}, replayed {built!r:.400}"
    # A symbol an input named yet no state holds: its view shows nothing, as a replay's.
    for (venue, account, symbol), view in written.items():
        if view != view_building.symbol_view(reconciler, (venue, account), symbol):
            return f"written {view!r:.400}, of no state on replay"
    return None


def first_difference(appended: list[InputEvent], read: list[InputEvent]) -> tuple[str, str] | None:
    """What kind of difference there first is between the inputs appended and those read
    back, and where; None if there is none."""
    if len(appended) != len(read):
        return "journal", f"{len(appended)} distinct inputs appended, {len(read)} read back"
    for index, (one, other) in enumerate(zip(appended, read, strict=True)):
        if codec.encode(one) != codec.encode(other):
            same_id = one.input_id == other.input_id
            case = "journal kept a later copy of an input" if same_id else "journal"
            return case, f"input {index}: appended {one!r}, read back {other!r}"
    return None


def first_of_each(events: list[InputEvent]) -> Iterator[InputEvent]:
    """The first event of each input id, in arrival order: later copies store nothing new."""
    seen: set[str] = set()
    for event in events:
        if event.input_id not in seen:
            seen.add(event.input_id)
            yield event


def _inputs(journal: Journal) -> Iterator[InputEvent]:
    position = 0
    while True:
        page, last = journal.inputs(position)
        if last == position:
            return
        yield from (event for _, event in page)
        position = last


def _read_commands(url: str, lines: list[bytes], expected: list[InputEvent]) -> list[Crash]:
    found: list[Crash] = []
    for argv in commands(url, expected):
        with _quiet():
            try:
                code = main(argv)
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 2
            except Exception as error:
                crash = from_exception("store reads", error, tuple(lines))
                found.append(crash)
                continue
        if code not in ANSWERS:
            detail = f"trueup {' '.join(argv[2:])} exited {code}"
            found.append(broken("store reads", "exit status", argv[2], detail, tuple(lines)))
    return found


def commands(url: str, events: list[InputEvent]) -> Iterator[list[str]]:
    """The read commands' argument lists for a journal holding ``events``."""
    store = ["--store", url]
    yield from (
        [*store, "events"],
        [*store, "events", "--json"],
        [*store, "positions"],
        [*store, "positions", "--json"],
        [*store, "fix-stale", "--dry-run"],
    )
    at = max((e.at for e in events), default=0)
    for venue, account, symbol in targets(events)[:3]:
        who = [f"--venue={venue}", f"--account={account}", f"--symbol={symbol}"]
        yield [*store, "audit", *who]
        yield [*store, "audit", *who, "--json"]
        yield [*store, "can-open", *who, f"--at={at}"]
        yield [*store, "diagnose", *who, f"--at={at}", "--json"]
        yield [*store, "diagnose", *who, f"--at={at}"]


@contextmanager
def _quiet() -> Iterator[None]:
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        yield
