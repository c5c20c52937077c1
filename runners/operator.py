"""The operator's tools: positions, fix-stale and diagnose, as command lines (can-open has
a module of its own, can_open_command.py, as the one a bot runs before each order).

Each parses nothing and decides nothing: it asks the application layer and prints the
answer, for people or (``--json``) for programs.
"""

import argparse
import getpass
import sys
from collections import Counter

from trueup.adapters.store.journal import Journal
from trueup.application.answers import Cleanup, CleanupReport, ExchangeCheck, StaleRecord
from trueup.application.service import ExchangeSource, TrueupService
from trueup.runners import output
from trueup.runners.arguments import PositionsFormat
from trueup.runners.usage import EXIT_NO, EXIT_OK, UsageError
from trueup.runners.venues import venue_feed


def positions(journal: Journal, args: argparse.Namespace) -> int:
    wanted = PositionsFormat(args.format or ("json" if args.json else "table"))
    service = TrueupService(journal)
    where = {"venue": args.venue, "account": args.account, "symbol": args.symbol}
    if wanted is PositionsFormat.CCXT:
        for position in service.ccxt_positions(**where):
            output.write_json(position)
        return EXIT_OK
    rows = service.positions(**where)
    if wanted is PositionsFormat.JSON:
        for row in rows:
            output.write_json(row)
    else:
        output.print_positions(rows, matching=where)
    return EXIT_OK


def summary(journal: Journal, args: argparse.Namespace) -> int:
    where = {"venue": args.venue, "account": args.account, "symbol": args.symbol}
    found = TrueupService(journal).summary(**where)
    if args.json:
        output.write_json(found.as_json())
    else:
        output.print_summary(found, matching=where)
    return EXIT_OK


def history(journal: Journal, args: argparse.Namespace) -> int:
    where = {"venue": args.venue, "account": args.account, "symbol": args.symbol}
    closed = TrueupService(journal).history(**where, since=args.since or 0)
    if args.json:
        for record in closed:
            output.write_json(output.closed_json(record))
    else:
        since = None if args.since is None else output.moment(args.since)
        output.print_history(closed, matching={**where, "since": since})
    return EXIT_OK


def fix_stale(journal: Journal, args: argparse.Namespace) -> int:
    how = Cleanup.ALL if args.force else Cleanup.NOT_ON_EXCHANGE
    if args.dry_run:
        how = Cleanup.NONE
    declined = False

    def confirm(chosen: list[StaleRecord]) -> bool:
        nonlocal declined
        if how is not Cleanup.ALL or args.yes:
            return True
        declined = not _confirm(f"close all {len(chosen)} local records?")
        return not declined

    service = TrueupService(journal)
    exchange = _exchange(args) if how is Cleanup.NOT_ON_EXCHANGE else None
    report = service.clean_stale(
        how,
        args.operator or getpass.getuser(),
        exchange=exchange,
        at=args.at,
        confirm=confirm,
        listed=_list,
        venue=args.venue,
        account=args.account,
    )
    check = report.exchange
    if check is not None:
        print(f"asked {check.venue}/{check.account}: {check.inputs} replies recorded")
        if not check.complete:
            print(f"trueup: nothing closed: {check.why_not}", file=sys.stderr)
            return EXIT_NO
    if not report.stale:
        print("no stale local positions")
    elif declined:
        print("nothing closed")
        return EXIT_NO
    elif how is not Cleanup.NONE:
        operator = args.operator or getpass.getuser()
        for record in report.uncovered:
            print(_uncovered(record, check))
        print(
            f"closed {len(report.closed)} local record(s) with {report.exit_reason} by "
            f"{operator}{_already(report)}"
        )
    return EXIT_OK


def _uncovered(record: StaleRecord, check: ExchangeCheck | None) -> str:
    """Why a record the exchange held nothing for, by its last word, was left open."""
    asked = "nothing" if check is None else check.described()
    return (
        f"{record.venue}/{record.account} {record.position_id}: not closed: the exchange was "
        f"asked for {asked}; {record.symbol} is not among them, so whether it holds it is "
        "unknown"
    )


def _already(report: CleanupReport) -> str:
    """Those another operator's fix-stale closed first, by whom: ``; 3 already closed by
    alice``, or nothing."""
    if not report.already:
        return ""
    by = Counter(first.by for _, first in report.already)
    return "; " + ", ".join(f"{n} already closed by {who}" for who, n in sorted(by.items()))


def _exchange(args: argparse.Namespace) -> ExchangeSource:
    """The account's venue, asked through its own client (credentials from the
    environment, as ``trueup run`` takes them)."""
    if not (args.venue and args.account):
        raise UsageError(
            "--check-exchange asks the exchange: name its --venue and --account "
            "(Bybit's keys in BYBIT_API_KEY and BYBIT_API_SECRET, Aster's in ASTER_API_KEY "
            "and ASTER_API_SECRET)"
        )
    feed = venue_feed(args)
    return ExchangeSource(args.venue, args.account, feed.fetch_once)


def _list(stale: list[StaleRecord]) -> None:
    for record in stale:
        there = (
            "the exchange holds its key"
            if record.exchange_holds_key
            else "the exchange holds nothing there"
        )
        print(f"{record.venue}/{record.account} {record.position_id}: {record.reason}; {there}")


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("--force changes positions: confirm at a terminal or pass --yes")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def diagnose(journal: Journal, args: argparse.Namespace) -> int:
    diagnosis = TrueupService(journal).diagnose(
        args.venue, args.account, args.symbol, last=args.last, at=args.at
    )
    if args.json:
        output.write_json(diagnosis.report)
    else:
        output.print_diagnosis(diagnosis.report)
    return EXIT_OK
