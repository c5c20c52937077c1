"""Shrinking a crash to the fewest, smallest lines that still break the same invariant."""

import time
from collections.abc import Callable, Sequence

import orjson

from tests.fuzz import store
from tests.fuzz.checks import Session
from tests.fuzz.crashes import Crash
from tests.fuzz.tree import Tree, delete, dump, get, parse_exact, paths, replace

Check = Callable[[list[bytes]], bool]
SHORT_TEXT = 16


def reproduces(lines: Sequence[bytes], crash: Crash) -> bool:
    """Whether these lines, in a fresh session, break the invariant ``crash`` broke."""
    crashes = Session().check_lines(list(lines))
    if crash.stage.startswith("store"):
        crashes += store.round_trip(list(lines), with_commands=crash.stage != "store")
    return any(found.signature == crash.signature for found in crashes)


def minimise(crash: Crash, budget_s: float) -> Crash:
    """The crash with its smallest reproducer found within ``budget_s`` seconds (four times
    that for a store crash, whose every try stores the lines and runs the read commands)."""
    slow = 4 if crash.stage.startswith("store") else 1
    deadline = time.monotonic() + budget_s * slow

    def check(lines: list[bytes]) -> bool:
        return time.monotonic() < deadline and reproduces(lines, crash)

    lines = list(crash.lines)
    if not check(lines):
        return crash
    lines = fewer_lines(lines, check)
    if crash.stage == "ids" and len(lines) > 1:
        lines = smaller_twins(lines, check)
    for index in range(len(lines)):
        lines[index] = smaller_line(lines, index, check)
    return crash.minimised(tuple(lines))


def fewer_lines(lines: list[bytes], check: Check) -> list[bytes]:
    """Drop runs of lines, halving the run, while the crash stays (a simple ddmin)."""
    for alone in ([lines[-1]], lines[-2:]):
        if len(alone) < len(lines) and check(alone):
            lines = alone
            break
    chunk = len(lines) // 2
    while chunk >= 1:
        start = 0
        while start < len(lines) and len(lines) > 1:
            candidate = lines[:start] + lines[start + chunk :]
            if candidate and check(candidate):
                lines = candidate
            else:
                start += chunk
        chunk //= 2
    return lines


def smaller_line(lines: list[bytes], index: int, check: Check) -> bytes:
    """Line ``index`` with every JSON member the crash does not need removed (and keys said
    twice said once, if the crash does not need that either)."""

    def works(candidate: Tree) -> bool:
        try:
            line = dump(candidate)
        except orjson.JSONEncodeError:
            return False
        return check([*lines[:index], line, *lines[index + 1 :]])

    trees = (parse_exact(lines[index], duplicates=False), parse_exact(lines[index]))
    tree = next((tree for tree in trees if tree is not None and works(tree)), None)
    if tree is None:
        return lines[index]
    # Deepest and last first: removing a node leaves the paths still to visit valid.
    for path in reversed(paths(tree)[1:]):
        candidate = delete(tree, path)
        if works(candidate):
            tree = candidate
            continue
        value = get(tree, path)
        if isinstance(value, str) and len(value) > SHORT_TEXT:
            shorter = replace(tree, path, value[:SHORT_TEXT])
            if works(shorter):
                tree = shorter
    return dump(tree)


def smaller_twins(lines: list[bytes], check: Check) -> list[bytes]:
    """Lines alike but for one place, shrunk together: the same members, then the same bytes,
    cut from every one of them, so that they stay twins."""
    trees = [parse_exact(line) for line in lines]
    shapes = {tuple(paths(tree)) if tree is not None else None for tree in trees}
    if len(shapes) == 1 and None not in shapes:
        for path in reversed(paths(trees[0])[1:]):
            candidate = [delete(tree, path) for tree in trees]
            if check([dump(tree) for tree in candidate]):
                trees = candidate
        lines = [dump(tree) for tree in trees]
    prefix = common_start(lines)
    rest = [line[len(prefix) :] for line in lines]
    suffix = common_start([line[::-1] for line in rest])[::-1]
    middles = [line[: len(line) - len(suffix)] for line in rest]

    def build(before: bytes, after: bytes) -> list[bytes]:
        return [before + middle + after for middle in middles]

    prefix = fewer_bytes(prefix, lambda cut: check(build(cut, suffix)))
    suffix = fewer_bytes(suffix, lambda cut: check(build(prefix, cut)))
    return build(prefix, suffix)


def fewer_bytes(data: bytes, works: Callable[[bytes], bool]) -> bytes:
    """Drop runs of bytes, halving the run, while ``works`` still holds."""
    chunk = len(data) // 2
    while chunk >= 1:
        start = 0
        while start < len(data):
            candidate = data[:start] + data[start + chunk :]
            if works(candidate):
                data = candidate
            else:
                start += chunk
        chunk //= 2
    return data


def common_start(lines: list[bytes]) -> bytes:
    """The bytes every one of ``lines`` starts with."""
    shortest = min(lines, key=len)
    for index, byte in enumerate(shortest):
        if any(line[index] != byte for line in lines):
            return shortest[:index]
    return shortest
