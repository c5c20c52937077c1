"""JSON trees the mutators edit: plain values, with orjson Fragments for text JSON can't build.

A Fragment is written verbatim, so a tree can hold what Python values cannot say through
orjson: 400-digit integers, ``1e999999999``, duplicated keys, nesting 1024 deep.
"""

import json
from collections.abc import Iterator
from typing import Any, TypeAlias

import orjson

Tree: TypeAlias = Any
Path: TypeAlias = tuple[str | int, ...]
Fragment = orjson.Fragment


def dump(tree: Tree) -> bytes:
    """The line for a tree, without its newline."""
    return orjson.dumps(tree)


def raw(text: str | bytes) -> orjson.Fragment:
    """JSON text kept verbatim in a tree."""
    return Fragment(text.encode() if isinstance(text, str) else text)


def nodes(tree: Tree) -> Iterator[tuple[Path, Tree]]:
    """Every node with its path, the root's (``()``) first, containers before what they hold."""
    stack: list[tuple[Path, Tree]] = [((), tree)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, dict):
            stack += [((*path, key), value) for key, value in reversed(node.items())]
        elif isinstance(node, list):
            stack += [((*path, index), node[index]) for index in reversed(range(len(node)))]


def paths(tree: Tree) -> list[Path]:
    """Every node's path, in ``nodes`` order."""
    return [path for path, _ in nodes(tree)]


def get(tree: Tree, path: Path) -> Tree:
    for step in path:
        tree = tree[step]
    return tree


def replace(tree: Tree, path: Path, value: Tree) -> Tree:
    """A copy of ``tree`` with the node at ``path`` replaced; only the path is copied."""
    if not path:
        return value
    step, rest = path[0], path[1:]
    copied: Any = dict(tree) if isinstance(tree, dict) else list(tree)
    copied[step] = replace(tree[step], rest, value)
    return copied


def delete(tree: Tree, path: Path) -> Tree:
    """A copy of ``tree`` without the node at ``path`` (which must not be the root)."""
    parent = get(tree, path[:-1])
    copied: Any = dict(parent) if isinstance(parent, dict) else list(parent)
    del copied[path[-1]]
    return replace(tree, path[:-1], copied)


def parse_exact(line: bytes, duplicates: bool = True) -> Tree | None:
    """The tree of a JSON line with every number kept as written; None if not plain JSON
    or too deep (or odd: lone surrogates) for ``dump`` to write back.

    Objects with a key given twice become one Fragment, written back as they came; with
    ``duplicates=False``, plain objects holding each key's last value.
    """
    try:
        text = line.decode("utf-8")
        tree = json.loads(
            text,
            parse_int=raw,
            parse_float=raw,
            parse_constant=_refuse,
            object_pairs_hook=_object if duplicates else dict,
        )
        dump(tree)
    except (UnicodeDecodeError, ValueError, RecursionError, TypeError):
        return None
    return tree


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _object(pairs: list[tuple[str, Tree]]) -> Tree:
    if len({key for key, _ in pairs}) == len(pairs):
        return dict(pairs)
    return pairs_fragment(pairs)


def pairs_fragment(pairs: list[tuple[str, Tree]]) -> orjson.Fragment:
    """An object written pair by pair, so a key may appear more than once."""
    body = b",".join(orjson.dumps(key) + b":" + orjson.dumps(value) for key, value in pairs)
    return Fragment(b"{" + body + b"}")
