"""A broken invariant, told apart from others by where in the input path and the code it broke."""

import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).resolve().parent
SHOWN_BYTES = 400


@dataclass(frozen=True)
class Crash:
    """One invariant broken at one stage, by the lines of a session up to ``lines[-1]``."""

    stage: str  # decode, stored form, fold, emitted, reads, ids, count, store
    kind: str  # the exception's type, or the invariant's name
    where: str  # the innermost frame in trueup's code, or what kind of case it was
    detail: str
    lines: tuple[bytes, ...]
    frames: tuple[str, ...] = ()
    origin: str = ""
    minimal: tuple[bytes, ...] | None = field(default=None, compare=False)

    @property
    def signature(self) -> tuple[str, str]:
        """What makes two crashes the same bug: the exception (or invariant) and its place."""
        return (self.kind, self.where)

    @property
    def line(self) -> bytes:
        """The line on which it broke."""
        return self.lines[-1] if self.lines else b""

    def minimised(self, lines: tuple[bytes, ...]) -> "Crash":
        return replace(self, minimal=lines)

    def describe(self) -> str:
        """The crash as a report: what, where, the reproducer and the last frames."""
        head = f"{self.stage}: {self.kind} at {self.where}"
        parts = [head, f"  {_shorten(self.detail)}"]
        if self.origin:
            parts.append(f"  found at {self.origin}")
        reproducer = self.minimal if self.minimal is not None else self.lines
        label = "minimal reproducer" if self.minimal is not None else "lines"
        parts.append(f"  {label} ({len(reproducer)} line(s)):")
        parts += [f"    {show(line)}" for line in reproducer]
        if self.frames:
            parts.append("  last frames:")
            parts += [f"    {frame}" for frame in self.frames]
        return "\n".join(parts)


def from_exception(stage: str, error: BaseException, lines: tuple[bytes, ...]) -> Crash:
    """The crash an exception raised at ``stage`` stands for."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if _in_project(f.filename)]
    others = [f for f in frames if not f.filename.startswith(str(HARNESS))]
    innermost = ours or others or frames
    where = _frame_place(innermost[-1]) if innermost else "?"
    shown = tuple(
        f"{_frame_place(f)}: {f.line}"
        for f in frames[-5:]
        if not f.filename.startswith(str(HARNESS))
    )
    return Crash(
        stage=stage,
        kind=type(error).__name__,
        where=where,
        detail=f"{type(error).__name__}: {error}",
        lines=lines,
        frames=shown,
    )


def broken(stage: str, invariant: str, case: str, detail: str, lines: tuple[bytes, ...]) -> Crash:
    """The crash for an invariant that held no exception but did not hold."""
    return Crash(stage=stage, kind=invariant, where=case, detail=detail, lines=lines)


def show(line: bytes) -> str:
    """A line as Python bytes text, cut in the middle when it is long."""
    if len(line) <= SHOWN_BYTES:
        return repr(line)
    half = SHOWN_BYTES // 2
    return f"{line[:half]!r} ... ({len(line)} bytes) ... {line[-half:]!r}"


def _shorten(text: str) -> str:
    return text if len(text) <= SHOWN_BYTES else text[:SHOWN_BYTES] + f"... ({len(text)} chars)"


def _in_project(filename: str) -> bool:
    path = Path(filename)
    return (
        path.is_relative_to(ROOT) and not path.is_relative_to(HARNESS) and ".venv" not in path.parts
    )


def _frame_place(frame: traceback.FrameSummary) -> str:
    path = Path(frame.filename)
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return f"{name}:{frame.lineno} {frame.name}"
