"""What `make` compiles with mypyc (setup.py: the domain, and the decoding of capture lines)
is what its sources say: the suite runs against the compiled build, and every seed session,
decoded and folded, emits the same bytes in it as in pure Python, the form `pip install`
takes where no compiler is."""

import hashlib
import subprocess
import sys
import typing
from enum import Enum

from tests.compiled_domain import SOURCES_ONLY
from tests.fuzz import corpus
from tests.inputs import event
from trueup.adapters.payload import Payload
from trueup.adapters.store import codec, snapshots
from trueup.adapters.store.snapshot_format import compiled
from trueup.adapters.store.snapshots import Snapshot
from trueup.domain.emitted import EMITTED_TYPES
from trueup.domain.events import INPUT_EVENT_TYPES
from trueup.domain.pnl_records import ClosedPosition
from trueup.domain.reconciler import Reconciler
from trueup.projections.views import AccountView, SymbolView


def folded() -> str:
    """Every seed session folded by one reconciler each, and a digest of what they emitted
    and of their state, snapshotted (its format named apart: it says which build wrote it)."""
    digest = hashlib.sha256()
    for session in corpus.sessions():
        reconciler = Reconciler()
        for record in session:
            for emitted in reconciler.apply(event(record)):
                digest.update(codec.encode_emitted(emitted))
        state = snapshots.dump(Snapshot(0, reconciler))
        restored = snapshots.load(state)
        assert restored is not None
        digest.update(repr(sorted(restored.reconciler.books)).encode())
    return digest.hexdigest()


def test_make_test_runs_the_suite_against_the_compiled_build() -> None:
    assert compiled(), "the domain runs from its sources: `make test` compiles it first"
    assert hasattr(Reconciler, "__mypyc_attrs__")
    assert hasattr(Payload, "__mypyc_attrs__")  # capture lines decoded compiled too


def test_the_compiled_domain_emits_what_its_sources_do() -> None:
    assert in_pure_python("folded()") == folded()


def in_pure_python(expression: str) -> str:
    """What ``expression`` of this module comes to in a process that runs the sources."""
    program = SOURCES_ONLY + (
        "from trueup.adapters.store.snapshot_format import compiled\n"
        "from tests.test_compiled_domain import *\n"
        f"assert not compiled()\nprint({expression})\n"
    )
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=300
    ).stdout.strip()


def decoded_from(roots: tuple[type, ...]) -> set[type]:
    """Every class of trueup's that msgspec may decode as part of one of ``roots``."""
    found: set[type] = set()

    def walk(hint: object) -> None:
        for argument in typing.get_args(hint):
            walk(argument)
        if isinstance(hint, type) and hint.__module__.startswith("trueup.") and hint not in found:
            found.add(hint)
            for field in typing.get_type_hints(hint).values():
                walk(field)

    for root in roots:
        walk(root)
    return found


def decoded_hints() -> str:
    """The annotations msgspec decodes every stored event and view by (an enum, by its values)."""
    roots: tuple[type, ...] = (*INPUT_EVENT_TYPES, *EMITTED_TYPES)
    roots += (AccountView, SymbolView, ClosedPosition)
    kinds = [kind for kind in decoded_from(roots) if not issubclass(kind, Enum)]
    hints = {f"{k.__module__}.{k.__qualname__}": typing.get_type_hints(k) for k in kinds}
    return repr(sorted(hints.items()))


def test_msgspec_decodes_by_the_annotations_the_sources_write() -> None:
    # mypyc erases a compiled class's (``str | None`` to ``type``): setup.py leaves the
    # modules of such classes pure.
    assert "trueup.domain.rules.config.RuleConfig" in decoded_hints()
    assert in_pure_python("decoded_hints()") == decoded_hints()
