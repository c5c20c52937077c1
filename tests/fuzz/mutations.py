"""Record mutators, shared by the hypothesis strategies and the fast random loop: each edits
a capture record's JSON tree, taking its choices from a ``random.Random``.

line_mutations edits a line's bytes, session_mutations a run of lines.
"""

import random
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from tests.fuzz import corpus
from tests.fuzz.hostile import ANY_VALUES, FIELD_VALUES, NESTED, deep
from tests.fuzz.tree import (
    Path,
    Tree,
    delete,
    get,
    nodes,
    pairs_fragment,
    raw,
    replace,
)

RecordMutator = Callable[[random.Random, Tree], Tree]

INT64 = range(-(2**63), 2**63)
EXTRA_KEYS = ("at", "venue", "data", "status", "seq", "", " ", "\x00", "x" * 300, "é", "__proto__")


def pick(rng: random.Random, tree: Tree, keep: Callable[[Path, Tree], bool]) -> Path | None:
    """A random path among those ``keep`` accepts; None if it accepts none."""
    found = [path for path, value in nodes(tree) if keep(path, value)]
    return rng.choice(found) if found else None


def _number(value: int) -> Tree:
    """An integer as a tree value: past 64 bits orjson can't write it, so as text."""
    return value if value in INT64 else raw(str(value))


def replace_any(rng: random.Random, tree: Tree) -> Tree:
    """Any node (the whole line too, now and then) becomes a hostile value."""
    path = pick(rng, tree, lambda path, _: bool(path) or rng.random() < 0.02)
    return tree if path is None else replace(tree, path, rng.choice(ANY_VALUES))


def replace_field(rng: random.Random, tree: Tree) -> Tree:
    """A field the rules read (size, seq, at, cursor, ...) gets a value hostile to its kind."""
    path = pick(rng, tree, lambda path, _: bool(path) and path[-1] in FIELD_VALUES)
    if path is None:
        return replace_any(rng, tree)
    return replace(tree, path, rng.choice(FIELD_VALUES[str(path[-1])]))


def nudge_number(rng: random.Random, tree: Tree) -> Tree:
    """A number, or a number in a string, moved a little or a lot: still plausible-looking."""
    path = pick(rng, tree, lambda _, v: _numeric(v))
    if path is None:
        return replace_field(rng, tree)
    return replace(tree, path, _nudged(rng, get(tree, path)))


def _numeric(value: Tree) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and _decimal(value) is not None)


def _decimal(text: str) -> Decimal | None:
    """The number in ``text`` if it is a modest one: nudging 1e999999999 would take forever."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    modest = number.is_finite() and abs(number.adjusted()) < 100 and len(text) < 40
    return number if modest else None


def _nudged(rng: random.Random, value: Tree) -> Tree:
    if isinstance(value, int):
        candidates = (value + 1, value - 1, -value, value * 1000, value // 1000, value + 2**63)
        return _number(rng.choice(candidates))
    number = _decimal(value)
    assert number is not None
    point = "" if "." in value else "."
    nudges: tuple[Callable[[], str], ...] = (
        lambda: str(number + 1),
        lambda: str(number - 1),
        lambda: str(-number),
        lambda: str(number.scaleb(30)),
        lambda: str(number.scaleb(-30)),
        lambda: f"{number:f}",
        lambda: f"{number:E}",
        lambda: value + point + "0" * 30 + "1",
        lambda: "0" * 20 + value,
        lambda: value + "9" * 30,
    )
    return rng.choice(nudges)()


def delete_key(rng: random.Random, tree: Tree) -> Tree:
    """A field goes missing."""
    path = pick(rng, tree, lambda path, _: bool(path) and isinstance(path[-1], str))
    return tree if path is None else delete(tree, path)


def add_key(rng: random.Random, tree: Tree) -> Tree:
    """An object gains a field it never had (or a known one where it does not belong)."""
    path = pick(rng, tree, lambda _, v: isinstance(v, dict))
    if path is None:
        return tree
    key = rng.choice((*EXTRA_KEYS, *FIELD_VALUES))
    value = rng.choice(FIELD_VALUES.get(key, ANY_VALUES))
    return replace(tree, path, {**get(tree, path), key: value})


def duplicate_key(rng: random.Random, tree: Tree) -> Tree:
    """An object says one of its keys twice, with different values."""
    path = pick(rng, tree, lambda _, v: isinstance(v, dict) and bool(v))
    if path is None:
        return tree
    pairs = list(get(tree, path).items())
    key = rng.choice(pairs)[0]
    values = FIELD_VALUES.get(key, ANY_VALUES)
    extra = (key, rng.choice(values))
    pairs.insert(rng.choice((0, len(pairs))), extra)
    return replace(tree, path, pairs_fragment(pairs))


def nest_deep(rng: random.Random, tree: Tree) -> Tree:
    """A value becomes an array or object nested 256 to 1024 deep."""
    path = pick(rng, tree, lambda path, _: bool(path))
    value = rng.choice((*NESTED, deep(rng.randint(200, 1100), rng.choice(("array", "object")))))
    return tree if path is None else replace(tree, path, value)


def retype(rng: random.Random, tree: Tree) -> Tree:
    """A value of the right content in the wrong type: "1" for 1, 1 for "1", [x] for x."""
    path = pick(rng, tree, lambda path, _: bool(path))
    if path is None:
        return tree
    value = get(tree, path)
    if isinstance(value, bool):
        changed: Tree = int(value)
    elif isinstance(value, int | float):
        changed = str(value)
    elif isinstance(value, str) and _numeric(value):
        changed = raw(value)
    else:
        changed = rng.choice(([value], {"value": value}, str(value), bool(value)))
    return replace(tree, path, changed)


def resize_list(rng: random.Random, tree: Tree) -> Tree:
    """A list emptied, an item repeated (once or hundreds of times), or the list reversed."""
    path = pick(rng, tree, lambda _, v: isinstance(v, list))
    if path is None:
        return tree
    items: list[Tree] = get(tree, path)
    if not items:
        return replace(tree, path, [rng.choice(ANY_VALUES)])
    item = rng.choice(items)
    changed = rng.choice(([], [*items, item], [item] * 300, items[::-1], [item, item]))
    return replace(tree, path, changed)


def splice(rng: random.Random, tree: Tree) -> Tree:
    """A subtree of another seed record grafted in: one venue's object in another's line."""
    donor = rng.choice(corpus.records())
    _, part = rng.choice(list(nodes(donor)))
    path = pick(rng, tree, lambda path, _: bool(path))
    return tree if path is None else replace(tree, path, part)


RECORD_MUTATORS: tuple[RecordMutator, ...] = (
    replace_field,
    replace_field,
    replace_field,
    nudge_number,
    nudge_number,
    replace_any,
    delete_key,
    add_key,
    duplicate_key,
    retype,
    resize_list,
    splice,
    nest_deep,
)
