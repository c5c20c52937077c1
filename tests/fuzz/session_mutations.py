"""Session mutators: each edits a run of lines: blank lines, repeats, twins that must not
share an input id (and respellings that must), reordering, clock ticks, pagination runs."""

import random
from collections.abc import Callable

import orjson

from tests.fuzz import bybit_seeds, corpus
from tests.fuzz.hostile import TIMES
from tests.fuzz.line_mutations import INVALID_UTF8, inside_string
from tests.fuzz.mutations import pick
from tests.fuzz.tree import Tree, dump, parse_exact, raw, replace

SessionMutator = Callable[[random.Random, list[bytes]], list[bytes]]


def _insert(rng: random.Random, lines: list[bytes], *new: bytes) -> list[bytes]:
    at = rng.randint(0, len(lines))
    return [*lines[:at], *new, *lines[at:]]


def blank_line(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    return _insert(rng, lines, rng.choice((b"", b" ", b"\t", b"\r", b"\r\n", b" \t \r")))


def repeat_line(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    """A line delivered twice, byte for byte: stored once, counted twice."""
    if not lines:
        return lines
    return _insert(rng, lines, rng.choice(lines))


def invalid_utf8_twins(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    """Two copies of a line differing only in the invalid UTF-8 bytes at one place."""
    line = rng.choice(lines) if lines else b"{}"
    at = inside_string(rng, line)
    first, second = rng.sample(INVALID_UTF8, 2)
    return _insert(rng, lines, line[:at] + first + line[at:], line[:at] + second + line[at:])


def number_twins(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    """Two copies of a line differing only in a number too long for a double to tell apart."""
    line = rng.choice(lines) if lines else b"{}"
    tree = parse_exact(line)
    if not isinstance(tree, dict) or not tree:
        tree = {"at": bybit_seeds.T0, "channel": "clock"}
    path = pick(rng, tree, lambda path, _: bool(path))
    assert path is not None
    first, second = rng.choice(
        (
            (str(10**32 + 1), str(10**32 + 2)),
            (str(2**64), str(2**64 + 1)),
            ("0.1", "0.10000000000000001"),
            ("1762199100000.0001", "1762199100000.0002"),
        )
    )
    twins = (dump(replace(tree, path, raw(number))) for number in (first, second))
    return _insert(rng, lines, *twins)


def respelled_twin(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    """The same JSON written differently (key order, spacing): one input, stored once."""
    line = rng.choice(lines) if lines else b"{}"
    tree = parse_exact(line)
    if tree is None:
        return lines
    spelled = dump(_reversed_keys(tree))
    return _insert(rng, lines, rng.choice((spelled, b" " + line + b" ", line + b"\r\n")))


def _reversed_keys(tree: Tree) -> Tree:
    if isinstance(tree, dict):
        return {key: _reversed_keys(value) for key, value in reversed(tree.items())}
    if isinstance(tree, list):
        return [_reversed_keys(value) for value in tree]
    return tree


def reorder(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    """A few lines arrive out of order."""
    if len(lines) < 2:
        return lines
    start = rng.randrange(len(lines) - 1)
    window = lines[start : start + rng.randint(2, 5)]
    rng.shuffle(window)
    return [*lines[:start], *window, *lines[start + len(window) :]]


def clock_tick(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    """Time passing, at a plausible or a hostile instant."""
    at = rng.choice((*TIMES, bybit_seeds.T0 + rng.randint(0, 10**7)))
    return _insert(rng, lines, orjson.dumps({"at": at, "channel": "clock"}))


def page_run(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    """Pages of a Bybit position list whose cursors chain, loop, skip or repeat, over time."""
    cursors = ("", "", "c1", "c2", "c3")
    at = bybit_seeds.T0 + rng.randint(0, 100_000)
    pages: list[bytes] = []
    cursor = ""
    for _ in range(rng.randint(1, 6)):
        following = rng.choice(cursors)
        items = rng.sample(bybit_seeds.position_items(), rng.randint(0, 2))
        pages.append(dump(bybit_seeds.position_page(at, items, cursor, following)))
        at += rng.choice((0, 1, 500, 5_000, 30_000))
        cursor = following if rng.random() < 0.8 else rng.choice(cursors)
    return _insert(rng, lines, *pages)


def foreign_line(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    """A seed line from another session (another venue, account, or time)."""
    return _insert(rng, lines, dump(rng.choice(corpus.records())))


SESSION_MUTATORS: tuple[SessionMutator, ...] = (
    blank_line,
    repeat_line,
    invalid_utf8_twins,
    number_twins,
    respelled_twin,
    reorder,
    clock_tick,
    clock_tick,
    page_run,
    page_run,
    foreign_line,
)
