"""``trueup trigger``: add, change, enable, disable, remove, confirm and list triggers.

Each command is appended as an input (channel trigger) through the same ingest path as
every other, so an audit shows who commanded what; it prints the trigger's id, or, refused
(or a confirm whose order is not sent: TRIGGER_FAILED), only why (on stderr, exit 1).
"""

import argparse
import getpass
import sys
from typing import Any

from trueup.adapters.store.journal import Journal
from trueup.application.answers import TriggerCommandReport
from trueup.application.service import TrueupService
from trueup.runners import output
from trueup.runners.usage import EXIT_NO, EXIT_OK, UsageError

# The flags of an add or change, by their field in the command's data.
SPEC_FIELDS = (
    "symbol", "direction", "kind", "level", "distance", "unit", "ratio", "action",
)  # fmt: skip


def command(journal: Journal, args: argparse.Namespace) -> int:
    service = TrueupService(journal)
    data: dict[str, Any] = {
        "command": args.action_name,
        "operator": args.operator or getpass.getuser(),
    }
    if args.action_name in ("add", "change"):
        # What a change does not name is left out: the one in force keeps it.
        data |= {name: getattr(args, name) for name in SPEC_FIELDS if getattr(args, name)}
        if args.auto_execute is not None:
            data["auto_execute"] = args.auto_execute
        if args.expires is not None:
            data["expires_at"] = args.expires
        elif getattr(args, "no_expires", False):
            data["expires_at"] = None
    trigger_id = getattr(args, "trigger_id", None)
    if trigger_id:
        data["trigger_id"] = trigger_id
    held = _account(service, args, trigger_id)
    if held is None:  # on no account: refused as the service refuses an unknown trigger
        report = TriggerCommandReport(trigger_id or "", "", [f"no trigger {trigger_id}"], [])
    else:
        report = service.command_trigger(*held, data, at=args.at)
    if args.json:
        output.write_json(report.as_json())  # says "accepted": false itself
    elif report.trigger_id and not report.refused and not report.failed:
        # An id on stdout means the command is in force: a script takes it as such.
        print(report.trigger_id)
    for reason in report.refused:
        print(f"trueup: refused: {reason}", file=sys.stderr)
    for reason in report.failed:  # a confirm recorded, its order not sent (TRIGGER_FAILED)
        print(f"trueup: failed: {reason}", file=sys.stderr)
    return EXIT_NO if report.refused or report.failed else EXIT_OK


def _account(
    service: TrueupService, args: argparse.Namespace, trigger_id: str | None
) -> tuple[str, str] | None:
    """The account named, or (for a command on an existing trigger) the one holding it;
    None when no account holds it."""
    if args.venue and args.account:
        return args.venue, args.account
    if args.action_name == "add" or not trigger_id:
        raise UsageError("name the trigger's --venue and --account")
    held = sorted(
        {(r["venue"], r["account"]) for r in service.triggers() if r["trigger_id"] == trigger_id}
    )
    if not held:
        return None
    if len(held) > 1:
        accounts = ", ".join(f"{venue}/{account}" for venue, account in held)
        raise UsageError(f"trigger {trigger_id} is on {accounts}: name its --venue and --account")
    return held[0]


def list_triggers(journal: Journal, args: argparse.Namespace) -> int:
    rows = TrueupService(journal).triggers(venue=args.venue, account=args.account)
    if args.json:
        for row in rows:
            output.write_json(row)
        return EXIT_OK
    if not rows:
        print("no triggers")
    for row in rows:
        level = row["level"] or f"{row['distance']} {row['unit']}"
        water = row.get("high_water") or row.get("low_water")
        print(
            f"{row['trigger_id']}  {row['venue']}/{row['account']} {row['symbol']} "
            f"{row['direction']} {row['kind']} {level} ratio={row['ratio']} {row['action']}"
            f"{' auto' if row['auto_execute'] else ''}: {row['state']}"
            + (f" water={water}" if water else "")
        )
    return EXIT_OK
