"""The operator's tools: positions, can-open, fix-stale and diagnose, all read from the journal.

Each rebuilds the reconciled state by replaying the journal, so what they say is exactly
what the projections concluded; fix-stale records what it does as inputs, so an audit
shows who cleaned what and when.
"""

import argparse
import getpass
import sys
from typing import TypeVar

import orjson

from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputRejected
from trueup.domain.rules.can_open import can_open
from trueup.domain.rules.findings import open_findings, stale_positions
from trueup.projections.audit import position_state
from trueup.projections.leased import LeasedProjection
from trueup.projections.positions import position_rows
from trueup.projections.reconciliation import replay
from trueup.runners import output
from trueup.runners.ingest import Ingestor
from trueup.runners.live import wall_clock
from trueup.runners.usage import EXIT_NO, EXIT_OK, UsageError

T = TypeVar("T")


def now_ms(args: argparse.Namespace) -> int:
    """The instant a verdict is for: --at, else the wall clock (runners may read it)."""
    at: int | None = getattr(args, "at", None)
    return at if at is not None else wall_clock()


def positions(journal: Journal, args: argparse.Namespace) -> int:
    rows = position_rows(replay(journal))
    if args.json:
        for row in rows:
            output.write_json(row)
    else:
        output.print_positions(rows)
    return EXIT_OK


def can_open_command(journal: Journal, args: argparse.Namespace) -> int:
    reconciler = replay(journal)
    book = reconciler.book(args.venue, args.account)
    memory = reconciler.memory(args.venue, args.account)
    verdict = can_open(
        book, memory, args.symbol, now_ms(args), side=args.side, timeframe=args.timeframe
    )
    if journal.unknown_inputs:
        # What those inputs said is unknown, so no answer built without them is vouched for.
        verdict = verdict.blocked(
            f"the journal holds {journal.unknown_inputs} input(s) of types this trueup "
            "cannot read (written by a newer trueup?): upgrade trueup"
        )
    if args.json:
        output.write_json(
            {"allowed": verdict.allowed, "reasons": verdict.reasons, "notes": verdict.notes}
        )
    else:
        print(
            ("yes" if verdict.allowed else "no") + f": {args.symbol} on {args.venue}/{args.account}"
        )
        for reason in verdict.reasons:
            print(f"  - {reason}")
        for note in verdict.notes:
            print(f"  note: {note}")
    return EXIT_OK if verdict.allowed else EXIT_NO


def fix_stale(journal: Journal, args: argparse.Namespace) -> int:
    reconciler = replay(journal)
    targets: list[tuple[str, str, str, str, bool]] = []
    for (venue, account), book in sorted(reconciler.books.items()):
        memory = reconciler.memories[(venue, account)]
        for position_id, why in stale_positions(book, memory):
            local = book.local_position(position_id)
            assert local is not None
            held = book.positions[local.key].exchange_qty != 0
            targets.append((venue, account, position_id, why, held))
    if not targets:
        print("no stale local positions")
        return EXIT_OK
    for venue, account, position_id, why, held in targets:
        there = "the exchange holds its key" if held else "the exchange holds nothing there"
        print(f"{venue}/{account} {position_id}: {why}; {there}")
    if args.dry_run:
        return EXIT_OK
    if args.force:
        chosen = [(v, a, p) for v, a, p, _, _ in targets]
        reason = "MANUAL_CLEANUP"
        if not args.yes and not _confirm(f"close all {len(chosen)} local records?"):
            print("nothing closed")
            return EXIT_NO
    else:  # --check-exchange: only what the exchange does not hold
        chosen = [(v, a, p) for v, a, p, _, held in targets if not held]
        reason = "STALE_CLEANUP"
    operator = args.operator or getpass.getuser()
    projection = LeasedProjection(journal)
    ingestor = Ingestor(journal, after_flush=projection.catch_up)
    at = now_ms(args)
    for venue, account, position_id in chosen:
        action = {
            "action": "clean_position",
            "position_id": position_id,
            "exit_reason": reason,
            "operator": operator,
        }
        line = {"at": at, "venue": venue, "account": account, "channel": "operator", "data": action}
        ingestor.add_line(orjson.dumps(line))
    ingestor.flush()
    projection.release()
    print(f"closed {len(chosen)} local record(s) with {reason} by {operator}")
    return EXIT_OK


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("--force changes positions: confirm at a terminal or pass --yes")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def diagnose(journal: Journal, args: argparse.Namespace) -> int:
    reconciler = replay(journal)
    book = reconciler.book(args.venue, args.account)
    memory = reconciler.memory(args.venue, args.account)
    emitted: list[Emitted] = []
    rejected: list[InputRejected] = []
    for _, event in journal.all_events():
        if (event.venue, event.account) != (args.venue, args.account):
            continue
        if isinstance(event, Emitted) and event.symbol in (args.symbol, None):
            emitted.append(event)
        elif isinstance(event, InputRejected):
            rejected.append(event)
    verdict = can_open(book, memory, args.symbol, now_ms(args))
    report = {
        "symbol": args.symbol,
        "positions": [
            {
                "position_idx": key.position_idx,
                "state": position_state(book, book.positions[key]),
                "findings": open_findings(book, memory, reconciler.config, key),
            }
            for key in sorted(book.positions)
            if key.symbol == args.symbol
        ],
        "cooldown_until": memory.cooldowns.get(args.symbol),
        "can_open": {
            "allowed": verdict.allowed,
            "reasons": verdict.reasons,
            "notes": verdict.notes,
        },
        "emitted": [codec.as_json(e) for e in _last(emitted, args.last)],
        "rejected_inputs": [
            {"at": r.at, "reason": r.reason, "endpoint": r.endpoint}
            for r in _last(rejected, args.last)
        ],
    }
    if args.json:
        output.write_json(report)
    else:
        output.print_diagnosis(report)
    return EXIT_OK


def _last(items: list[T], n: int) -> list[T]:
    """The last ``n`` items: none for 0, where ``items[-0:]`` would give them all."""
    return items[max(len(items) - n, 0) :]
