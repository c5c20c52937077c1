"""``trueup notify``: the notifier as a process; ``notify list``: did anyone get told?;
``notify test``: a test notification to each target (docs/notifications.md)."""

import argparse
import getpass

from trueup.adapters.store.journal import Journal
from trueup.application.answers import DeliveryRecord, NotificationTest
from trueup.application.notifier import Notifier, send_tests
from trueup.application.notifier import log as notifier_log
from trueup.application.service import TrueupService
from trueup.domain.vocabulary import NotificationOutcome
from trueup.runners import output
from trueup.runners.notify_config import chosen, load_targets
from trueup.runners.signals import stop_on_signals
from trueup.runners.supervised import run_supervised
from trueup.runners.usage import EXIT_NO, EXIT_OK, UsageError


def run(journal: Journal, args: argparse.Namespace) -> int:
    if args.config is None:
        raise UsageError("notify: --config FILE names the targets to send to")
    targets = load_targets(args.config)
    notifier = Notifier(journal, targets, name=args.name, from_now=args.from_now)
    notifier_log.info(
        "notifier %s: %s", args.name, ", ".join(f"{t.name} ({t.shown_url})" for t in targets)
    )
    run_supervised(notifier, args.poll_ms, stop_on_signals(), notifier_log, "notifier")
    return EXIT_OK


def test(args: argparse.Namespace) -> int:
    """Needs no journal: only the targets."""
    results = send_tests(chosen(load_targets(args.config), args.target))
    for result in results:
        if args.json:
            output.write_json(result.as_json())
        else:
            print(_test_line(result))
    return EXIT_OK if all(r.delivered for r in results) else EXIT_NO


def _test_line(result: NotificationTest) -> str:
    said = "delivered" if result.delivered else f"FAILED: {result.reason}"
    return f"{result.target} ({result.kind}, {result.url}): {said} in {result.elapsed_ms} ms"


def list_deliveries(journal: Journal, args: argparse.Namespace) -> int:
    records = TrueupService(journal).deliveries(event_id=args.event, dead_letters=args.dead_letters)
    for record in records:
        if args.json:
            output.write_json(record.as_json())
        else:
            print(_delivery_line(record))
    if not records and not args.json:
        print(f"nobody was told of {args.event}" if args.event else "no notifications recorded")
    if args.event is None:
        return EXIT_OK
    delivered = NotificationOutcome.DELIVERED
    return EXIT_OK if any(r.outcome is delivered for r in records) else EXIT_NO


def acknowledge(journal: Journal, args: argparse.Namespace) -> int:
    operator = args.operator or getpass.getuser()
    done = TrueupService(journal).acknowledge_dead_letters(args.name, operator, args.reason)
    if done is None:
        raise UsageError(f"notify ack: no notifier named {args.name!r} has run on this journal")
    if args.json:
        output.write_json(done.as_json())
    else:
        print(
            f"notifier {done.notifier}: {done.newly} dead letter(s) acknowledged by "
            f"{done.operator} at {output.moment(done.at)}; /health counts only later ones"
        )
    return EXIT_OK


def _delivery_line(record: DeliveryRecord) -> str:
    tries = f"{record.attempts} {'try' if record.attempts == 1 else 'tries'}"
    what = f"{record.outcome} {output.moment(record.last_at)} after {tries}"
    if record.reason:
        delivered = record.outcome is NotificationOutcome.DELIVERED
        what += f" ({'last failure: ' if delivered else ''}{record.reason})"
    return (
        f"{record.event_id}  {record.event_type:<20} {record.venue}/{record.account}  "
        f"-> {record.target}: {what}"
    )
