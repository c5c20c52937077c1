"""The fast random loop's sessions: a window of a seed session, mutated by the shared mutators."""

import random

from tests.fuzz import corpus
from tests.fuzz.line_mutations import LINE_MUTATORS
from tests.fuzz.mutations import RECORD_MUTATORS
from tests.fuzz.session_mutations import SESSION_MUTATORS
from tests.fuzz.tree import Tree, dump

WINDOWS = (1, 2, 5, 10, 20, 40, 80)
MUTATION_RATES = (0.05, 0.2, 0.5, 1.0)
LINE_MUTATION_RATE = 0.12


def session_rng(seed: int, index: int) -> random.Random:
    """The generator of session ``index`` of run ``seed``: any session can be rebuilt alone."""
    return random.Random(f"{seed}:{index}")


def session_lines(rng: random.Random) -> list[bytes]:
    """A run of seed records, some mutated, with session-level mutations on top."""
    records = seed_window(rng)
    rate = rng.choice(MUTATION_RATES)
    lines = [mutated_line(rng, r) if rng.random() < rate else dump(r) for r in records]
    for _ in range(rng.choice((0, 0, 1, 1, 2, 4))):
        lines = rng.choice(SESSION_MUTATORS)(rng, lines)
    return lines


def seed_window(rng: random.Random) -> tuple[Tree, ...]:
    """Consecutive records of one seed session, from its start half of the time."""
    session = rng.choice(corpus.sessions())
    length = rng.choice(WINDOWS)
    start = 0 if rng.random() < 0.5 else rng.randrange(max(1, len(session) - length + 1))
    return session[start : start + length]


def mutated_line(rng: random.Random, record: Tree) -> bytes:
    """One to three record mutations, then now and then a mutation of the line's bytes."""
    tree = record
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        tree = rng.choice(RECORD_MUTATORS)(rng, tree)
    line = dump(tree)
    if rng.random() < LINE_MUTATION_RATE:
        line = rng.choice(LINE_MUTATORS)(rng, line)
    return line
