"""``trueup can-open``: may the trading system open SYMBOL now? Exit 0 yes, 1 no.

Apart from the operator's other tools (operator.py): the question a bot asks before each
order loads the can-open use case and the views, none of the service's other answers.
"""

import argparse

from trueup.adapters.store.journal import Journal
from trueup.application.can_open import answer_can_open
from trueup.runners import output
from trueup.runners.usage import EXIT_NO, EXIT_OK


def can_open_command(journal: Journal, args: argparse.Namespace) -> int:
    answer = answer_can_open(
        journal,
        args.venue,
        args.account,
        args.symbol,
        side=args.side,
        timeframe=args.timeframe,
        at=args.at,
    )
    if args.json:
        output.write_json(answer.as_document())
    else:
        print(
            ("yes" if answer.allowed else "no") + f": {args.symbol} on {args.venue}/{args.account}"
        )
        for reason in answer.reasons:
            print(f"  - {reason}")
        for note in answer.notes:
            print(f"  note: {note}")
    return EXIT_OK if answer.allowed else EXIT_NO
