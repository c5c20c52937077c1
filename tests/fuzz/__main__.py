"""``python -m tests.fuzz --lines N [--seed S] [--store postgresql]``: the long fuzz run;
exit 1 on any crash. The store trips' journals are SQLite files, or with ``--store
postgresql`` databases on TRUEUP_TEST_POSTGRES_URL's server (else a throwaway one).

``--replay S:K`` prints session K of the run with seed S, as a capture file to ingest.
"""

import argparse
import secrets
import sys
from contextlib import ExitStack

from tests.fuzz import harness, store
from trueup_simulators.postgres import postgres_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000, help="how many lines to run")
    parser.add_argument("--seed", type=int, help="the run's seed (default: a random one)")
    parser.add_argument(
        "--store-every", type=int, default=harness.STORE_EVERY, help="lines between store trips"
    )
    parser.add_argument(
        "--minimise-s", type=float, default=harness.MINIMISE_S, help="seconds to shrink a crash"
    )
    parser.add_argument(
        "--store", choices=("sqlite", "postgresql"), default="sqlite", help="the trips' store"
    )
    parser.add_argument("--replay", metavar="SEED:SESSION", help="print one session's lines")
    args = parser.parse_args(argv)
    if args.replay:
        seed, index = (int(part) for part in args.replay.split(":"))
        sys.stdout.buffer.write(b"\n".join(harness.replay(seed, index)) + b"\n")
        return 0
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    print(f"fuzz: seed {seed} (rerun with --seed {seed})", flush=True)
    with ExitStack() as trips:
        if args.store == "postgresql":
            trips.enter_context(store.on_postgresql(trips.enter_context(postgres_server())))
        summary = harness.run(
            args.lines,
            seed,
            store_every=args.store_every,
            minimise_s=args.minimise_s,
            progress=_progress,
        )
    print(harness.report(summary))
    return 1 if summary.classes else 0


def _progress(summary: harness.Summary) -> None:
    print(
        f"  ... {summary.count.lines} lines, {summary.crashes} crashes "
        f"in {len(summary.classes)} classes, {summary.rate:.0f} lines/s",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
