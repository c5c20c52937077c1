"""``python -m tests.soak --rounds N [--seed S] [--store sqlite|postgresql] [--only K]``: the
long soak; exit 1 if any round failed. Round K of seed S draws the same plan every time
(``--only K`` runs it alone); the moments its faults land on do not repeat to the
millisecond, which is what the soak is for.
"""

import argparse
import random
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from tests.soak import rounds
from trueup_simulators.postgres import fresh_database, postgres_server

STORES = ("sqlite", "postgresql")
SIZES = (1_500, 3_000, 6_000)  # inputs per capture: a round takes 2-15 s

# Makes an empty journal for a round, and drops it after.
Journals = Callable[[], AbstractContextManager[str]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--rounds", type=int, default=20, help="how many rounds to run")
    parser.add_argument("--seed", type=int, help="the run's seed (default: a random one)")
    parser.add_argument("--store", choices=STORES, default="sqlite", help="the journal's store")
    parser.add_argument("--only", type=int, metavar="K", help="run round K of the seed alone")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    print(f"soak: seed {seed} on {args.store} (rerun with --seed {seed})", flush=True)
    numbers = [args.only] if args.only is not None else list(range(args.rounds))
    failed = 0
    with journals(args.store) as new_journal:
        for number in numbers:
            plan = rounds.draw(random.Random(f"{seed}:{number}"), SIZES)
            with tempfile.TemporaryDirectory(prefix="trueup-soak-") as folder, new_journal() as url:
                outcome = rounds.run(plan, url, Path(folder))
            verdict = "FAILED" if outcome.problems else "passed"
            print(
                f"round {number}: {verdict} in {outcome.seconds:.1f} s, {outcome.inputs:,} inputs, "
                f"{outcome.emitted:,} emitted; {plan.described()}",
                flush=True,
            )
            for problem in outcome.problems:
                print(f"  - {problem}", flush=True)
            failed += bool(outcome.problems)
    print(f"soak: {len(numbers) - failed} of {len(numbers)} rounds passed (seed {seed})")
    return 1 if failed else 0


@contextmanager
def journals(store: str) -> Iterator[Journals]:
    """A maker of empty journals on ``store``: a SQLite file in a folder of its own, or a new
    database on the PostgreSQL server the tests use (TRUEUP_TEST_POSTGRES_URL, else one
    started for the run)."""
    if store == "sqlite":
        yield _sqlite_journal
        return
    with postgres_server() as server:
        yield lambda: fresh_database(server, prefix="trueup_soak")


@contextmanager
def _sqlite_journal() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="trueup-soak-journal-") as folder:
        yield f"sqlite://{folder}/journal.db"


if __name__ == "__main__":
    sys.exit(main())
