"""Line mutators: each edits a capture line's bytes, never adding a newline inside it (a
capture file would read that as two lines)."""

import random
from collections.abc import Callable

LineMutator = Callable[[random.Random, bytes], bytes]

INVALID_UTF8 = (
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xc3",
    b"\xc3\x28",
    b"\xe2\x82",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf8\x88\x80\x80\x80",
)


def inside_string(rng: random.Random, line: bytes) -> int:
    """A position just inside a string's quotes, if the line has any; else anywhere."""
    quotes = [i + 1 for i, byte in enumerate(line) if byte == ord('"')]
    return rng.choice(quotes) if quotes else rng.randint(0, len(line))


def invalid_utf8(rng: random.Random, line: bytes) -> bytes:
    at = inside_string(rng, line)
    return line[:at] + rng.choice(INVALID_UTF8) + line[at:]


def null_byte(rng: random.Random, line: bytes) -> bytes:
    at = inside_string(rng, line) if rng.random() < 0.7 else rng.randint(0, len(line))
    return line[:at] + b"\x00" + line[at:]


def truncate(rng: random.Random, line: bytes) -> bytes:
    return line[: rng.randint(0, len(line))]


def flip_byte(rng: random.Random, line: bytes) -> bytes:
    if not line:
        return b"\xff"
    at = rng.randrange(len(line))
    byte = rng.choice([b for b in range(256) if b != ord("\n")])
    return line[:at] + bytes([byte]) + line[at + 1 :]


def pad(rng: random.Random, line: bytes) -> bytes:
    """Whitespace, a byte-order mark, or line-end bytes around an otherwise good line."""
    before = rng.choice((b"", b" ", b"\t", b"\xef\xbb\xbf", b"\r"))
    after = rng.choice((b"", b" ", b"\r", b"\r\r", b"\r\n", b"\n", b"\x0b", b"\x0c"))
    return before + line + after


def doubled(rng: random.Random, line: bytes) -> bytes:
    """Two documents on one line, as a capture writer that lost a newline would leave."""
    return line + rng.choice((b"", b" ", b"\r")) + line


LINE_MUTATORS: tuple[LineMutator, ...] = (
    invalid_utf8,
    invalid_utf8,
    null_byte,
    truncate,
    flip_byte,
    pad,
    doubled,
)
