"""The ``trueup`` command line: ingest captures, audit a position, list stored events."""

# A command imports only what it uses: each handler imports its own dependencies (the
# venues' SDKs, the projections; for the demo, the simulators and aiohttp, which are not
# part of trueup at all), and only the command run has its options built (Parser's
# ``options``: the venues' names, say), so that --help, or a question to a SQLite journal,
# does not wait for what only another command needs.

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeAlias

from trueup.adapters.store.location import StoreError, store_url
from trueup.runners.arguments import (
    Parser,
    PositionsFormat,
    body_bytes,
    count,
    emitted_type,
    epoch_ms,
    event_type,
    fraction,
    http_url,
    milliseconds,
    nats_url,
    operator_name,
    port,
    position_side,
    positive_int,
    seconds,
    short_name,
    subject_prefix,
    symbols,
    venue_name,
    whole_number,
    writable_directory,
    writable_file,
)
from trueup.runners.gc_policy import exit_uncollected, relaxed_gc
from trueup.runners.usage import EXIT_OK, EXIT_USAGE, UsageError

if TYPE_CHECKING:
    from trueup.adapters.nats.publisher import Publisher
    from trueup.adapters.notify.target import Target
    from trueup.adapters.store.journal import Journal
    from trueup.application.executor import Executor
    from trueup.domain.emitted import Emitted
    from trueup.runners.rules_file import RulesFile

# As shells report a process ended by these signals.
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def entry() -> NoReturn:
    """The ``trueup`` command: ``main`` on the process's arguments, then exit with its code."""
    try:
        code = main()
    except SystemExit as stop:  # argparse's own: --help, a usage error
        exit_uncollected(stop.code)
    exit_uncollected(code)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        args.rules_file = _rules_file(args)
        if args.command is _demo:
            args.run_demo = _demo_runner()
        if args.command is _ingest:
            from trueup.runners import capture_files

            capture_files.check(args.files)  # before the journal is opened, or made
        # NATS only: tail opens no journal; nor does a test of the notification targets.
        if args.command in (_tail, _notify_test):
            return int(args.command(args))
        return _execute(args)
    except (StoreError, UsageError) as error:
        print(f"trueup: {_one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _rules_file(args: argparse.Namespace) -> "RulesFile | None":
    """The --rules file, checked before anything starts; only writers put it in force."""
    if args.rules is None:
        return None
    from trueup.runners.rules_file import RulesFile

    rules_file = RulesFile(args.rules)
    if args.command not in (_ingest, _run, _worker):
        print(
            "trueup: note: --rules is put in force by ingest, run and worker; "
            "answers use the rules recorded in the journal",
            file=sys.stderr,
        )
    return rules_file


def _execute(args: argparse.Namespace) -> int:
    """Run the command on the journal; stdout is flushed here, so a closed pipe shows here."""
    from trueup.adapters.store.journal import Journal

    url = store_url(args.store)
    # Only a command that brings inputs from outside makes a journal (serve takes them over
    # HTTP): elsewhere a mistyped --store is an error. A trigger commanded into a new journal
    # could never fire, nor an executor or a notifier find anything to act on in one.
    create = args.command in (_ingest, _run, _worker, _demo, _serve)
    opened = Journal.open(url, give_up_after_s=args.give_up_after, create=create)
    with opened as journal, relaxed_gc():
        code: int = args.command(journal, args)
        _warn_unread(journal)
    sys.stdout.flush()
    return code


def _warn_unread(journal: "Journal") -> None:
    """Say what was skipped: an answer must never hide that part of the journal went unread."""
    skipped = journal.unknown_inputs + journal.unknown_emitted
    if skipped:
        print(
            f"trueup: warning: skipped {journal.unknown_inputs} input(s) and "
            f"{journal.unknown_emitted} emitted event(s) of types this trueup cannot read "
            "(written by a newer trueup?)",
            file=sys.stderr,
        )


def _one_line(message: str) -> str:
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def _discard_stdout() -> None:
    """Whoever read stdout (``| head``) is gone: what is still buffered goes nowhere.

    Python flushes stdout again at exit; pointed at /dev/null it cannot fail there.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="trueup", description=__doc__)
    _journal_options(parser)
    commands = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Command)
    _journal_commands(commands)
    _operator_commands(commands)
    _process_commands(commands)
    return parser


def _journal_options(parser: Parser, default: object = None) -> None:
    """The options every command takes: the journal, the rules, how long to retry."""
    parser.add_argument(
        "--store",
        default=default,
        help="journal: a SQLite path, sqlite:///abs/path or postgresql://... "
        "(default: $TRUEUP_STORE, else ./trueup.db)",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        default=default,
        metavar="FILE.toml",
        help="rule thresholds (drift_threshold_pct, drift_grace_ms, cooldown_ms, ...)",
    )
    parser.add_argument(
        "--give-up-after",
        type=seconds,
        default=default,
        metavar="S",
        help="stop retrying a journal that cannot be reached after S seconds "
        "(default: keep retrying)",
    )


class _Command(Parser):
    """A command's parser: it takes the journal's options after its name as well
    (`trueup positions --store X`), where given overriding what came before it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        shared = partial(_journal_options, default=argparse.SUPPRESS)
        super().__init__(*args, shared=shared, **kwargs)


Commands: TypeAlias = "argparse._SubParsersAction[_Command]"


def _journal_commands(commands: Commands) -> None:
    """Putting inputs in, and reading the journal back."""
    commands.add_parser(
        "ingest", help="append capture files (JSON Lines) to the journal", options=_ingest_options
    )
    commands.add_parser(
        "audit", help="replay one position's history from the journal", options=_audit_options
    )
    commands.add_parser("events", help="list stored events", options=_events_options)


def _ingest_options(ingest: Parser) -> None:
    ingest.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE.jsonl",
        help="capture files, gzip'd or not; - reads standard input",
    )
    detection = ingest.add_mutually_exclusive_group()
    detection.add_argument(
        "--no-projections",
        action="store_true",
        help="only append; leave detection to separate `trueup worker` processes",
    )
    detection.add_argument(
        "--detector-process",
        choices=("auto", "always", "never"),
        default="auto",
        help="run the detectors in a second process while this one appends, on Linux, when "
        "no other process runs them (auto: for captures of 10 MB or more, on two cores)",
    )
    ingest.set_defaults(command=_ingest)


def _audit_options(audit_: Parser) -> None:
    audit_.add_argument("--venue", required=True)
    audit_.add_argument("--account", required=True)
    audit_.add_argument("--symbol", required=True)
    audit_.add_argument("--position-idx", type=int, choices=(0, 1, 2))
    audit_.add_argument(
        "--as-of", type=epoch_ms, metavar="WHEN", help="ISO 8601 (2025-11-03T19:45:10Z) or epoch ms"
    )
    shown_as = audit_.add_mutually_exclusive_group()
    shown_as.add_argument("--json", action="store_true")
    shown_as.add_argument(
        "--html",
        type=writable_file,
        metavar="FILE",
        help="write the audit as one self-contained page (a chart of local and exchange "
        "quantity, what trueup said as markers), for a bug report",
    )
    audit_.set_defaults(command=_audit)


def _events_options(events: Parser) -> None:
    events.add_argument(
        "--type", type=event_type, help="only events of this type (PositionsReported, ...)"
    )
    events.add_argument("--emitted", action="store_true", help="only what the detectors emitted")
    events.add_argument("--json", action="store_true")
    events.set_defaults(command=_events)


def _operator_commands(commands: Commands) -> None:
    """The tools of an operator woken at 3 a.m. by a blocked bot."""
    commands.add_parser(
        "positions",
        help="reconciled positions, local beside exchange, with PnL and risk",
        options=_positions_options,
    )
    commands.add_parser(
        "summary",
        help="the portfolio: positions, PnL, equity and margin per account, distribution "
        "by venue and symbol, and the risk figures",
        options=_summary_options,
    )
    commands.add_parser(
        "history",
        help="closed positions: each lifecycle, open to flat, with its PnL",
        options=_history_options,
    )
    commands.add_parser(
        "can-open",
        help="may the trading system open SYMBOL now? exit 0 yes, 1 no",
        options=_can_open_options,
    )
    commands.add_parser(
        "fix-stale", help="list or close stale local positions", options=_fix_stale_options
    )
    commands.add_parser(
        "diagnose", help="everything that affects SYMBOL now", options=_diagnose_options
    )
    commands.add_parser(
        "trigger",
        help="add, change, enable, disable, remove, confirm or list the account's triggers",
        options=_trigger_options,
    )


def _positions_options(positions: Parser) -> None:
    positions.add_argument("--venue")
    positions.add_argument("--account")
    positions.add_argument("--symbol")
    positions.add_argument("--json", action="store_true", help="the same as --format json")
    positions.add_argument(
        "--format",
        choices=[f.value for f in PositionsFormat],
        help="table (the default), json (one row a line) or ccxt (ccxt's unified Position "
        "structure, one a line, for what the exchange holds)",
    )
    positions.set_defaults(command=_positions)


def _summary_options(summary: Parser) -> None:
    summary.add_argument("--venue")
    summary.add_argument("--account")
    summary.add_argument("--symbol")
    summary.add_argument("--json", action="store_true")
    summary.set_defaults(command=_summary)


def _history_options(history: Parser) -> None:
    history.add_argument("--venue")
    history.add_argument("--account")
    history.add_argument("--symbol")
    history.add_argument(
        "--since", type=epoch_ms, metavar="WHEN", help="closed at or after: ISO 8601 or epoch ms"
    )
    history.add_argument("--json", action="store_true")
    history.set_defaults(command=_history)


def _can_open_options(can_open: Parser) -> None:
    _account_symbol(can_open)
    can_open.add_argument(
        "--side",
        type=position_side,
        metavar="SIDE",
        help="long or short (Buy or Sell): in hedge mode only that leg's position blocks",
    )
    can_open.add_argument("--timeframe")
    can_open.add_argument(
        "--at",
        type=epoch_ms,
        metavar="WHEN",
        help="judge as of this instant (ISO 8601 or epoch ms)",
    )
    can_open.add_argument("--json", action="store_true")
    can_open.set_defaults(command=_can_open)


def _fix_stale_options(fix: Parser) -> None:
    from trueup.runners.venues import FEED_VENUES, feed_venue

    how = fix.add_mutually_exclusive_group(required=True)
    how.add_argument("--dry-run", action="store_true", help="only list them")
    how.add_argument(
        "--check-exchange", action="store_true", help="close those the exchange does not hold"
    )
    how.add_argument("--force", action="store_true", help="close them all (asks first)")
    fix.add_argument("--yes", action="store_true", help="do not ask before --force")
    fix.add_argument(
        "--venue",
        type=feed_venue,
        metavar=FEED_VENUES,
        help="--check-exchange: the venue to ask; --dry-run, --force: only its records",
    )
    fix.add_argument(
        "--account",
        help="--check-exchange: the account to ask about; --dry-run, --force: only its records",
    )
    fix.add_argument(
        "--base-url", type=http_url, help="--check-exchange: another host, e.g. a simulator"
    )
    fix.set_defaults(poll_interval=5.0)
    fix.add_argument(
        "--operator", type=operator_name, help="who is cleaning (default: the login name)"
    )
    fix.add_argument(
        "--at",
        type=epoch_ms,
        metavar="WHEN",
        help="the instant its records carry (ISO 8601 or epoch ms; default: now); what is "
        "stale is judged as of the journal's end all the same",
    )
    fix.set_defaults(command=_fix_stale)


def _diagnose_options(diagnose: Parser) -> None:
    _account_symbol(diagnose)
    diagnose.add_argument("--last", type=count, default=20, help="how many recent events to show")
    diagnose.add_argument(
        "--at", type=epoch_ms, metavar="WHEN", help="as of this instant (ISO 8601 or epoch ms)"
    )
    diagnose.add_argument("--json", action="store_true")
    diagnose.set_defaults(command=_diagnose)


def _trigger_options(trigger: Parser) -> None:
    """Triggers: commands recorded as inputs, never edited in place."""
    actions = trigger.add_subparsers(required=True, metavar="ACTION")
    for name, help_ in (
        ("add", "configure a new trigger (prints its id)"),
        (
            "change",
            "put a new configuration in force (same symbol and direction): what it does not "
            "name is kept from the one in force",
        ),
        ("enable", "arm a disabled (or finished) trigger again"),
        ("disable", "stop it firing (a firing waiting on its confirm is cancelled)"),
        ("remove", "remove it for good"),
        ("confirm", "request the order a fired trigger waits on"),
    ):
        parser = actions.add_parser(name, help=help_)
        parser.add_argument("--venue")
        parser.add_argument("--account")
        parser.add_argument(
            "--operator", type=operator_name, help="who commands it (default: the login name)"
        )
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--at",
            type=epoch_ms,
            metavar="WHEN",
            help="the instant the command carries (ISO 8601 or epoch ms; default: now)",
        )
        if name == "add":
            parser.add_argument("--id", dest="trigger_id", help="its id (default: minted)")
        else:
            parser.add_argument("trigger_id", metavar="ID")
        if name in ("add", "change"):
            _trigger_spec(parser, adding=name == "add")
        parser.set_defaults(command=_trigger, action_name=name)
    listing = actions.add_parser("list", help="each trigger's configuration and state")
    listing.add_argument("--venue")
    listing.add_argument("--account")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(command=_trigger_list)


def _trigger_spec(parser: argparse.ArgumentParser, *, adding: bool) -> None:
    """An add's configuration, every flag it needs required; a change's, each flag optional,
    what it does not name kept from the configuration in force."""
    parser.add_argument("--symbol", required=adding)
    parser.add_argument("--direction", required=adding, choices=["long", "short"])
    parser.add_argument(
        "--kind", required=adding, choices=["profit", "price", "stop_loss", "trailing"]
    )
    parser.add_argument("--level", help="profit threshold, target or stop price")
    parser.add_argument("--distance", help="trailing: how far from the water mark")
    parser.add_argument("--unit", choices=["price", "percent"], help="trailing distance's unit")
    parser.add_argument("--ratio", required=adding, help="share of the position: 0 < ratio <= 1")
    parser.add_argument("--action", required=adding, choices=["lock", "reduce"])
    parser.add_argument(
        "--auto-execute",
        action=argparse.BooleanOptionalAction,
        help="request the order without a confirm (default: " + ("no)" if adding else "kept)"),
    )
    expiry = parser.add_mutually_exclusive_group()
    expiry.add_argument("--expires", type=epoch_ms, metavar="WHEN", help="ISO 8601 or epoch ms")
    if not adding:
        expiry.add_argument(
            "--no-expires", action="store_true", help="take the expiry in force off"
        )


def _serve_options(serve: Parser) -> None:
    """``trueup serve``: the HTTP API."""
    from trueup.application.backlog import KEPT_DEAD_LETTERS, BacklogLimits
    from trueup.application.following import DEFAULT_QUIET_AFTER_MS
    from trueup.runners.venues import venue_account

    serve.add_argument("--host", default="127.0.0.1", help="(default: 127.0.0.1, this machine)")
    serve.add_argument("--port", type=port, default=8780)
    serve.add_argument(
        "--max-body-bytes",
        type=body_bytes,
        default=8 * 1024 * 1024,
        metavar="N",
        help="refuse a POST body over N bytes (413)",
    )
    serve.add_argument(
        "--max-projection-lag-ms",
        type=positive_int,
        default=5_000,
        metavar="MS",
        help="the projection's lag past which /health says 503, and how long a POST waits "
        "for another process to detect its lines (default: 5000)",
    )
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="answer from N processes on one port (one runs each partition of the "
        "projection; one that dies is replaced)",
    )
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="log no line per request (a busy server spends a part of each answer on it)",
    )
    serve.add_argument(
        "--no-projection",
        dest="projection",
        action="store_false",
        help="leave detection to another process on the journal (trueup run, worker, demo)",
    )
    serve.add_argument(
        "--notify-config",
        type=Path,
        metavar="FILE.toml",
        help="notification targets, for POST /v1/notify/test (docs/notifications.md)",
    )
    limits = BacklogLimits()
    serve.add_argument(
        "--max-dead-letters",
        type=whole_number(0, KEPT_DEAD_LETTERS - 1),
        default=limits.max_dead_letters,
        metavar="N",
        help="/health is 503 while a notifier has dead-lettered more than N notifications "
        f"within --dead-letter-window-ms (default: {limits.max_dead_letters})",
    )
    serve.add_argument(
        "--dead-letter-window-ms",
        type=milliseconds,
        default=limits.dead_letter_window_ms,
        metavar="MS",
        help=f"(default: {limits.dead_letter_window_ms}, an hour)",
    )
    serve.add_argument(
        "--max-undelivered-ms",
        type=milliseconds,
        default=limits.max_undelivered_ms,
        metavar="MS",
        help="/health is 503 while a notifier still owes a notification of an event emitted "
        f"more than MS ago (default: {limits.max_undelivered_ms})",
    )
    serve.add_argument(
        "--follow",
        type=venue_account,
        action="append",
        default=[],
        metavar="VENUE/ACCOUNT",
        help="/health judges this account's exchange view however long it has been quiet "
        "(repeatable)",
    )
    serve.add_argument(
        "--quiet-after-ms",
        type=milliseconds,
        default=DEFAULT_QUIET_AFTER_MS,
        metavar="MS",
        help="/health judges the exchange view of any other account only while its latest "
        f"input is at most MS old (default: {DEFAULT_QUIET_AFTER_MS}, a day)",
    )
    serve.set_defaults(command=_serve)


def _process_commands(commands: Commands) -> None:
    """The long-running ones: live ingest, and the projections on their own."""
    commands.add_parser(
        "run", help="live ingest from a venue, until SIGINT or SIGTERM", options=_run_options
    )
    commands.add_parser(
        "demo",
        help="simulated Bybit, Hyperliquid and Aster, live-ingested, every detector firing",
        description="What `make run` plays: the Bybit, Hyperliquid and Aster simulators "
        "driven through a scenario, live-ingested through the real venue clients, every "
        "detector firing. Needs the simulators (`make` installs them).",
        options=_demo_options,
    )
    commands.add_parser(
        "worker", help="run the projections, following the journal", options=_worker_options
    )
    commands.add_parser(
        "tail",
        help="follow the emitted events on NATS (docs/nats.md), until Ctrl-C",
        options=_tail_options,
    )
    commands.add_parser(
        "serve",
        help="the HTTP API over the journal (docs/http-api.md), until SIGINT or SIGTERM",
        options=_serve_options,
    )

    commands.add_parser(
        "execute",
        help="place the orders fired triggers request on one venue account, each once "
        "(docs/orders.md), until SIGINT or SIGTERM",
        options=_execute_options,
    )
    commands.add_parser(
        "notify",
        help="send the emitted events the --config file's targets select to them (webhooks, "
        "ntfy), until SIGINT or SIGTERM; or list or test",
        options=_notify_options,
    )


def _run_options(run: Parser) -> None:
    from trueup.runners.venues import FEED_VENUES, feed_venue

    run.add_argument(
        "--venue",
        required=True,
        type=feed_venue,
        metavar=FEED_VENUES,
    )
    run.add_argument(
        "--account", required=True, help="a name (Bybit, Aster, ccxt) or the address (Hyperliquid)"
    )
    run.add_argument(
        "--base-url", type=http_url, help="another host than the venue's, e.g. a simulator"
    )
    run.add_argument(
        "--record", type=writable_file, metavar="FILE", help="also write a capture of it all"
    )
    run.add_argument(
        "--poll-interval", type=seconds, default=5.0, metavar="S", help="REST fallback"
    )
    run.add_argument(
        "--prices",
        type=symbols,
        metavar="SYMBOL[,SYMBOL...]",
        help="also record the venue's public prices of these symbols (Bybit's tickers, "
        "Hyperliquid's activeAssetCtx, Aster's mark prices)",
    )
    run.add_argument(
        "--tick-ms", type=milliseconds, default=1_000, help="clock ticks, for timed rules"
    )
    run.add_argument("--no-projections", action="store_true", help="leave them to workers")
    run.add_argument(
        "--nats",
        type=nats_url,
        metavar="URL",
        help="also publish each input, and what the projection emits, to NATS JetStream "
        "(docs/nats.md)",
    )
    run.add_argument(
        "--nats-spool",
        type=writable_directory,
        metavar="DIR",
        help="where messages wait while NATS is away (default: beside a SQLite journal)",
    )
    run.add_argument(
        "--nats-spool-mb",
        type=positive_int,
        default=256,
        metavar="MB",
        help="the most that may wait in the spool; past it, NATS misses messages and the "
        "journal alone has them (default: 256)",
    )
    run.add_argument(
        "--execute",
        action="store_true",
        help="also place the orders fired triggers request, in this process, woken as soon as "
        "the projection requests one (as `trueup execute` does; docs/orders.md)",
    )
    _executor_options(run)
    _nats_prefix(run)
    run.set_defaults(command=_run)


def _demo_options(demo: Parser) -> None:
    demo.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE",
        help="the steps the simulators play (default: the checkout's "
        "samples/scenarios/demo.jsonl, wherever the demo is started; "
        "samples/scenarios/README.md describes them)",
    )
    demo.set_defaults(command=_demo)


# A worker's step when it follows the journal: a backlog (a burst of ingest) is worked off
# in steps of this many rows, each step's views and tracking written once (measured on the
# bench's journal: 20,700 inputs/s in steps of 2,000 rows, 23,900 in steps of 10,000).
# Beside an ingest of 30,000 inputs into the 1M journal, a worker behind it had them all
# processed 1.19x and 1.22x sooner in steps of 20,000 than of 10,000 (medians of 7 and 8
# alternating runs; 40,000: 1.26x, but 130 MB at the peak of a backlog's catch-up where
# 20,000 took 95 MB and 10,000 77 MB); catching up a backlog alone, and beside an ingest
# into an empty journal (which it keeps up with), no change. A worker that is keeping up
# reads only what is new, so this adds nothing to its latency; one behind records a step's
# first events when the step ends (~8,500 of the bench's inputs: ~0.3 s).
WORKER_PAGE = 20_000
NATS_BATCH = 1_000  # inputs a NATS worker fetches per account at a time


def _worker_options(worker: Parser) -> None:
    worker.add_argument(
        "--poll-ms", type=milliseconds, default=100, help="how often to look for inputs"
    )
    worker.add_argument(
        "--batch",
        type=positive_int,
        help="following the journal: rows read per step, their inputs processed and recorded "
        f"in one transaction (default {WORKER_PAGE:,}: about 8,500 inputs with their markers "
        f"and emitted events); from NATS: inputs per fetch (default {NATS_BATCH:,})",
    )
    worker.add_argument(
        "--nats",
        type=nats_url,
        metavar="URL",
        help="take the inputs from NATS JetStream, and publish what is emitted (docs/nats.md)",
    )
    worker.add_argument(
        "--accounts",
        metavar="PATTERN",
        help="--nats: offer to run the partitions of accounts matching PATTERN "
        "(venue/account, shell-style: 'bybit/*')",
    )
    _nats_prefix(worker)
    worker.set_defaults(command=_worker)


def _tail_options(tail: Parser) -> None:
    tail.add_argument("--nats", type=nats_url, required=True, metavar="URL")
    tail.add_argument(
        "--type", type=emitted_type, help="only events of this type (POSITION_CLOSED, ...)"
    )
    tail.add_argument("--venue", type=venue_name)
    tail.add_argument("--account")
    tail.add_argument(
        "--all",
        action="store_true",
        help="from the first event the stream keeps, not only those from now on",
    )
    tail.add_argument("--json", action="store_true")
    _nats_prefix(tail)
    tail.set_defaults(command=_tail)


def _execute_options(execute: Parser) -> None:
    from trueup.runners.venues import EXECUTION_VENUES

    execute.add_argument("--venue", required=True, choices=EXECUTION_VENUES)
    execute.add_argument(
        "--account", required=True, help="a name (Bybit, Aster) or the address (Hyperliquid)"
    )
    execute.add_argument(
        "--base-url", type=http_url, help="another host than the venue's, e.g. a simulator"
    )
    _executor_options(execute)
    execute.set_defaults(command=_executor)


def _executor_options(parser: argparse.ArgumentParser) -> None:
    """How an executor places what fired triggers request (``execute``, ``run --execute``)."""
    parser.add_argument(
        "--poll-ms", type=milliseconds, default=50, help="how often to look for requests"
    )
    parser.add_argument(
        "--max-age-ms",
        type=milliseconds,
        default=30_000,
        help="a request older than this when first seen is not placed, and fails (default: 30000)",
    )
    parser.add_argument(
        "--slippage",
        type=fraction,
        default=Decimal("0.05"),
        help="a market order's worst price, as a fraction of the price its trigger fired "
        "at (Hyperliquid needs one; default 0.05)",
    )


def _notify_options(notify: Parser) -> None:
    """Notifications (docs/notifications.md): the notifier, its record, and a test."""
    notify.add_argument(
        "--config", type=Path, metavar="FILE.toml", help="the targets (docs/notifications.md)"
    )
    notify.add_argument(
        "--poll-ms", type=milliseconds, default=100, help="how often to look for events"
    )
    notify.add_argument(
        "--name",
        type=short_name,
        default="default",
        help="the notifier's name: its lease and its progress (default: default)",
    )
    notify.add_argument(
        "--from-now",
        action="store_true",
        help="a notifier of this name that has never run starts at the journal's end, "
        "not its beginning",
    )
    notify.set_defaults(command=_notify)
    actions = notify.add_subparsers(metavar="ACTION")
    listing = actions.add_parser(
        "list", help="did anyone get told? per emitted event and target, what the tries came to"
    )
    listing.add_argument("--event", metavar="EVENT_ID", help="only this emitted event's")
    listing.add_argument(
        "--dead-letters", action="store_true", help="only those the last try failed"
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(command=_notify_list)
    test = actions.add_parser(
        "test", help="send a test notification to each target; exit 1 if any failed"
    )
    test.add_argument("--config", type=Path, required=True, metavar="FILE.toml")
    test.add_argument("--target", metavar="NAME", help="only this one")
    test.add_argument("--json", action="store_true")
    test.set_defaults(command=_notify_test)
    ack = actions.add_parser(
        "ack",
        help="acknowledge a notifier's dead letters until now: /health counts only later ones",
    )
    ack.add_argument(
        "--name",
        type=short_name,
        default=argparse.SUPPRESS,  # else it would hide `notify --name X ack`'s
        help="the notifier's name (default: default)",
    )
    ack.add_argument(
        "--operator", type=operator_name, help="who acknowledges (default: the login name)"
    )
    ack.add_argument("--reason", default="", help="why, for whoever looks next")
    ack.add_argument("--json", action="store_true")
    ack.set_defaults(command=_notify_ack)


def _nats_prefix(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats-prefix",
        type=subject_prefix,
        default="trueup",
        metavar="NAME",
        help="subjects NAME.inputs.> and NAME.events.>, streams NAME_INPUTS and NAME_EVENTS: "
        "several trueups on one NATS (default: trueup)",
    )


def _account_symbol(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--venue", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--symbol", required=True)


# The operator's tools (runners/operator.py; can-open's, runners/can_open_command.py),
# imported only when one of them runs.


def _positions(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import operator

    return operator.positions(journal, args)


def _summary(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import operator

    return operator.summary(journal, args)


def _history(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import operator

    return operator.history(journal, args)


def _can_open(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners.can_open_command import can_open_command

    return can_open_command(journal, args)


def _fix_stale(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import operator

    return operator.fix_stale(journal, args)


def _trigger(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import triggers

    return triggers.command(journal, args)


def _trigger_list(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import triggers

    return triggers.list_triggers(journal, args)


def _diagnose(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import operator

    return operator.diagnose(journal, args)


def _ingest(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.adapters.store.wal_checkpoints import BULK_EVERY_S, checkpoints_aside
    from trueup.application.ingest import IngestCount
    from trueup.application.service import TrueupService
    from trueup.runners import capture_files
    from trueup.runners.signals import Terminated, sigterm_raises

    service = TrueupService(journal)
    if args.rules_file is not None:
        service.put_rules_in_force(args.rules_file.rules, str(args.rules_file.path))
    captures = capture_files.Captures(args.files)
    progress = IngestCount()
    try:
        with sigterm_raises(), checkpoints_aside(journal.url, BULK_EVERY_S):
            if _detector_process_wanted(journal, args):
                from trueup.runners.detector_process import ingest_beside

                report = ingest_beside(service, captures, progress)
            else:
                report = service.ingest(captures, detect=not args.no_projections, progress=progress)
    except (KeyboardInterrupt, Terminated) as stopped:
        # "At least": a batch is stored in transactions (on PostgreSQL, several for a large
        # one), and the signal may come between a commit and its count. A rerun skips them.
        print(
            f"trueup: interrupted by {'SIGTERM' if isinstance(stopped, Terminated) else 'SIGINT'}"
            f" with at least {progress.stored:,} of the {progress.lines:,} lines read in the"
            " journal;"
            " the same `trueup ingest` again stores the rest, none twice",
            file=sys.stderr,
        )
        return EXIT_TERMINATED if isinstance(stopped, Terminated) else EXIT_INTERRUPTED
    except StoreError as error:
        # What a rerun can take up from, as after an interruption: the store failed under way.
        print(
            f"trueup: {_one_line(str(error))}; at least {progress.stored:,} of the "
            f"{progress.lines:,} lines read are in the journal, and the same `trueup ingest` "
            "again stores the rest, none twice",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(
        f"ingested {report.lines} lines: {report.accepted} accepted, {report.rejected} rejected"
        + (f" ({report.duplicates} already in the journal)" if report.duplicates else "")
        + (f" ({report.blank} blank lines skipped)" if report.blank else "")
    )
    if report.emitted:
        print("emitted " + ", ".join(f"{n} {kind}" for kind, n in report.emitted.items()))
    if not report.detected_here:
        print("detection left to the process that runs the projections (it holds them)")
    captures.check_read()
    return EXIT_OK


def _detector_process_wanted(journal: "Journal", args: argparse.Namespace) -> bool:
    from trueup.runners import detector_process

    if args.no_projections or args.detector_process == "never" or journal.url is None:
        return False
    if not detector_process.available():
        return False
    if args.detector_process == "auto" and not detector_process.worth_it(args.files):
        return False
    return detector_process.leases_free(journal)


def _run(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners.live import run_live
    from trueup.runners.signals import reload_on_sighup, stop_on_signals
    from trueup.runners.venues import EXECUTION_VENUES, run_feed

    _log_as_trueup()
    if args.execute and args.venue not in EXECUTION_VENUES:
        raise UsageError(f"--execute: orders are not placed on {args.venue} yet")
    feed = run_feed(args)
    publisher = _nats_publisher(args, journal) if args.nats else None
    reload_on_sighup(args.rules_file)
    with ExitStack() as beside:
        on_emitted = beside.enter_context(_executing_beside(args)) if args.execute else None
        live = run_live(
            journal,
            feed,
            stop_on_signals(),
            rules_file=args.rules_file,
            projections=not args.no_projections,
            record_path=args.record,
            tick_ms=args.tick_ms,
            publisher=publisher,
            on_emitted=on_emitted,
        )
    count = live.ingestor.count
    print(f"stopped: {count.accepted} inputs accepted, {count.rejected} rejected")
    if publisher is not None:
        spool = publisher.spool
        print(
            f"NATS: {publisher.published} messages published, {publisher.duplicates} already "
            f"there, {spool.waiting_bytes} bytes left in the spool {spool.path}"
            + (f", {spool.dropped_total} not published (spool full)" if spool.dropped_total else "")
        )
    if feed.failure is not None:
        # Not transient (a wrong key): said in one line, and a supervisor should not loop.
        raise UsageError(feed.failure)
    return EXIT_OK


@contextmanager
def _executing_beside(args: argparse.Namespace) -> "Iterator[Callable[[Emitted], None]]":
    """``run --execute``: the account's executor in a thread, on a journal connection of its
    own (as `trueup execute` would be), woken by what the run's projection emits."""
    from trueup.adapters.store.journal import Journal
    from trueup.runners.executor import executing

    url = store_url(args.store)
    with (
        Journal.open(url, give_up_after_s=args.give_up_after) as journal,
        executing(_executor_of(journal, args), args.poll_ms) as woken,
    ):
        yield woken


def _nats_publisher(args: argparse.Namespace, journal: "Journal") -> "Publisher":
    """The publisher for ``run --nats``: a server without JetStream is refused at once; one
    that is not up yet is waited for, the inputs spooled meanwhile."""
    import logging

    from trueup.adapters.nats.connection import NoJetStream, Unreachable, probe, shown
    from trueup.adapters.nats.publisher import Publisher
    from trueup.adapters.nats.spool import Spool, SpoolBusy
    from trueup.adapters.nats.subjects import Subjects, encode_token
    from trueup.adapters.store.location import is_postgres, settings

    url = store_url(args.store)
    name = f"{args.venue}.{encode_token(args.account)}.nats-spool"
    if args.nats_spool is not None:
        path = args.nats_spool / name
    elif is_postgres(url):
        raise UsageError(
            "--nats with a PostgreSQL journal needs --nats-spool DIR: "
            "where messages wait while NATS is away"
        )
    else:
        path = Path(settings(url)["SQLITE_DBNAME"] + "." + name)
    try:
        probe(args.nats)
    except NoJetStream as error:
        raise UsageError(str(error)) from None
    except Unreachable as error:
        logging.getLogger("trueup.nats").warning("%s: spooling until one does", error)
    try:
        spool = Spool(path, args.nats_spool_mb * 1024 * 1024)
    except SpoolBusy as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot open the NATS spool {path}: {error.strerror}") from None
    if spool.waiting_bytes:
        logging.getLogger("trueup.nats").info(
            "%d bytes left in the spool %s by an earlier run: published first",
            spool.waiting_bytes,
            path,
        )
    publisher = Publisher(
        args.nats, Subjects(args.nats_prefix), spool, f"trueup run {args.venue}/{args.account}"
    )
    logging.getLogger("trueup.nats").info(
        "publishing to NATS at %s (%s.inputs.>, %s.events.>)",
        shown(args.nats),
        args.nats_prefix,
        args.nats_prefix,
    )
    return publisher


def _tail(args: argparse.Namespace) -> int:
    from trueup.adapters.nats.connection import NoJetStream, Unreachable
    from trueup.adapters.nats.streams import StreamTaken
    from trueup.runners.tail import tail

    try:
        return tail(args)
    except (NoJetStream, Unreachable, StreamTaken) as error:
        raise UsageError(str(error)) from None


def _demo(journal: "Journal", args: argparse.Namespace) -> int:
    # The demo's own lines tell the story; the clients' reports of the drops it causes on
    # purpose would only confuse it.
    _log_as_trueup("CRITICAL")
    from trueup.adapters.store.journal import Journal

    # stdout as it is now: run_demo's default is the one of whenever it was first imported.
    # The demo's executor works on a connection of its own, as `trueup execute` would.
    with Journal.open(store_url(args.store)) as executor_journal:
        args.run_demo(journal, args.scenario, sys.stdout, executor_journal)
    return EXIT_OK


def _log_as_trueup(level: str = "INFO") -> None:
    """trueup's log lines, in its format, replacing whatever a client library set up when
    imported. websocket-client logs every dropped stream as an ERROR: the feed's supervisor
    says so itself (WS_RECONNECT), once, in trueup's words. (Disabled, not levelled: pybit
    resets that logger's level each time it opens a stream.) httpx logs each request's URL
    at INFO: a signed request's signature has no place in a log."""
    import logging  # only the long-running commands log: the others need not load it

    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s", force=True)
    logging.getLogger("websocket").disabled = True
    logging.getLogger("httpx").setLevel(max(logging.getLevelName(level), logging.WARNING))


def _demo_runner() -> "Callable[[Journal, Path | None, TextIO, Journal], None]":
    """The demo, from the simulators: a distribution of their own, not trueup's (make
    installs both). Asked before the journal is opened, so that without them nothing is."""
    try:
        from trueup_simulators.demo import run_demo
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in ("trueup_simulators", "aiohttp"):
            raise
        raise UsageError(
            "the demo needs the simulators: pip install -e simulators (make does)"
        ) from None
    return run_demo


def _worker(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.adapters.store.wal_checkpoints import checkpoints_aside
    from trueup.runners.signals import reload_on_sighup, stop_on_signals
    from trueup.runners.worker import run_worker

    _log_as_trueup()
    if args.nats:
        return _nats_worker(journal, args)
    if args.accounts:
        raise UsageError("--accounts is for a worker on NATS: pass --nats URL too")
    reload_on_sighup(args.rules_file)
    with checkpoints_aside(journal.url):  # as trueup run: no commit of its own checkpoints
        run_worker(
            journal, args.rules_file, args.poll_ms, stop_on_signals(), args.batch or WORKER_PAGE
        )
    return EXIT_OK


def _nats_worker(journal: "Journal", args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from trueup.adapters.nats.connection import NoJetStream, Unreachable, probe
    from trueup.adapters.nats.streams import StreamTaken
    from trueup.adapters.nats.subjects import Subjects
    from trueup.adapters.store.journal import Journal
    from trueup.runners.nats_worker import NatsWorker
    from trueup.runners.signals import stop_on_signals

    if args.rules_file is not None:
        raise UsageError(
            "a worker on NATS takes the rules from the inputs: pass --rules to trueup run "
            "or trueup ingest"
        )
    try:
        probe(args.nats)
    except NoJetStream as error:
        raise UsageError(str(error)) from None
    except Unreachable as error:
        # As a runner does: a NATS restarting, or started after its workers, is waited for.
        logging.getLogger("trueup.nats").warning("%s: waiting until one does", error)
    with Journal.open(store_url(args.store), give_up_after_s=args.give_up_after) as answers:
        worker = NatsWorker(
            journal,
            args.nats,
            Subjects(args.nats_prefix),
            accounts=args.accounts,
            batch=args.batch or NATS_BATCH,
            answers=answers,
        )
        try:
            asyncio.run(worker.run(stop_on_signals()))
        except StreamTaken as error:
            raise UsageError(str(error)) from None
    print(f"stopped: {worker.stored} inputs stored, {worker.emitted} events published")
    return EXIT_OK


def _executor(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners.executor import run_executor
    from trueup.runners.signals import stop_on_signals

    _log_as_trueup()
    run_executor(_executor_of(journal, args), args.poll_ms, stop_on_signals())
    return EXIT_OK


def _executor_of(journal: "Journal", args: argparse.Namespace) -> "Executor":
    """The executor of ``args.venue`` / ``args.account``, working on ``journal``."""
    from trueup.application.executor import Executor, ExecutorSettings
    from trueup.runners.venues import execution_client

    client = execution_client(args)
    settings = ExecutorSettings(max_age_ms=args.max_age_ms, slippage=args.slippage)
    return Executor(journal, args.venue, args.account, client, settings=settings)


def _notify(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import notify

    _log_as_trueup()
    return notify.run(journal, args)


def _notify_list(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import notify

    return notify.list_deliveries(journal, args)


def _notify_ack(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.runners import notify

    return notify.acknowledge(journal, args)


def _notify_test(args: argparse.Namespace) -> int:
    from trueup.runners import notify

    return notify.test(args)


def _serve(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.adapters.store.wal_checkpoints import checkpoints_aside
    from trueup.application.backlog import BacklogLimits
    from trueup.application.following import Following
    from trueup.runners.http_api import ApiSettings
    from trueup.runners.http_server import TOKEN_ENV, check_exposure, serve
    from trueup.runners.signals import stop_on_signals

    # An empty variable is no token: it would let any bearer through.
    token = os.environ.get(TOKEN_ENV) or None
    check_exposure(args.host, token)  # before logging is set up: a refusal is one line
    _log_as_trueup()
    # uvicorn stops on SIGINT and SIGTERM, then raises the signal again for the handler it
    # found: this one, so that serve exits 0 once stopped, like run and worker.
    stop = stop_on_signals()
    targets: tuple[Target, ...] = ()
    if args.notify_config is not None:
        from trueup.runners.notify_config import load_targets

        targets = tuple(load_targets(args.notify_config))
    notifier_limits = BacklogLimits(
        args.max_dead_letters, args.dead_letter_window_ms, args.max_undelivered_ms
    )
    settings = ApiSettings(
        token,
        args.max_body_bytes,
        max_projection_lag_ms=args.max_projection_lag_ms,
        run_projection=args.projection,
        notify_targets=targets,
        notifier_limits=notifier_limits,
        following=Following(args.quiet_after_ms, frozenset(args.follow)),
        access_log=args.access_log,
        host=args.host,
    )
    # As trueup run: no answer to a POST of inputs waits on a commit that checkpoints.
    with checkpoints_aside(journal.url):
        if args.workers > 1:
            from trueup.runners.http_workers import serve_workers

            serve_workers(
                journal,
                args.host,
                args.port,
                settings=settings,
                count=args.workers,
                stop=stop,
                setup_logging=_log_as_trueup,
            )
        else:
            serve(journal, args.host, args.port, settings)
    print("stopped")
    return EXIT_OK


def _audit(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.application.position_audit import SeveralLegs, audit_position, no_position
    from trueup.runners import output

    result = audit_position(
        journal,
        args.venue,
        args.account,
        args.symbol,
        position_idx=args.position_idx,
        as_of=args.as_of,
    )
    keys = result.keys
    if not keys:
        raise UsageError(no_position(args.venue, args.account, result))
    if args.json or args.html:
        if len(keys) > 1:
            legs = SeveralLegs(args.symbol, (k.position_idx for k in keys))
            raise UsageError(f"{legs}: pass --position-idx")
        document = output.audit_json(result)
        if args.json:
            output.write_json(document)
            return EXIT_OK
        from trueup.adapters.store.codec import event_json
        from trueup.application.service import TrueupService
        from trueup.runners.audit_page import audit_page

        key = keys[0]
        said = TrueupService(journal).emitted_about(
            key.venue, key.account, key.symbol, key.position_idx, as_of=args.as_of
        )
        page = audit_page(document, [event_json(*stored) for stored in said])
        args.html.write_text(page, encoding="utf-8")
        print(f"wrote {args.html}: {len(result.timeline)} inputs, {len(said)} emitted events")
    else:
        output.print_audit(result)
    return EXIT_OK


def _events(journal: "Journal", args: argparse.Namespace) -> int:
    from trueup.application.service import TrueupService
    from trueup.runners import output

    service = TrueupService(journal)
    after = 0
    while True:
        page = service.events_after(after, type_=args.type, emitted_only=args.emitted)
        for position, event in page.events:
            output.print_event(position, event, as_json=args.json)
        if not page.events:
            return EXIT_OK
        after = page.next_after


if __name__ == "__main__":
    entry()
