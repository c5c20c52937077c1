"""The format a snapshot (snapshots.py) is valid for: a digest of every source file of
``trueup.domain``, the state's shape, what stored inputs read as, and the rules that made
it. On its own, so that what only checks a format (the persisted views) loads no reconciler."""

import hashlib
from importlib import resources, util
from typing import Any

# How snapshots.py lays the state out in a snapshot, beyond what the domain's code decides:
# bumped whenever that changes (2: caches left out, equal keys saved once; 3: LZ4 frames,
# not zlib; 4: decimals of the same text saved once).
PICKLED_SHAPE = 4
# What stored inputs read as, beyond what the domain's code decides: bumped whenever
# upcast.py gives inputs already stored other values than it gave them, for the state a
# snapshot folded from them is then not what a rebuild folds now (2: ccxt contracts counted
# again from their names).
INPUTS_READ_AS = 2


def compiled() -> bool:
    """Whether this trueup's domain was compiled by mypyc (setup.py): its objects pickle
    otherwise than pure Python's, so its snapshots are of a format of their own."""
    spec = util.find_spec("trueup.domain.reconciler")
    return spec is not None and not str(spec.origin).endswith(".py")


def source_digest(root: Any) -> str:
    """A digest of the source files under ``root`` (a package's folder), of the shape, of
    what stored inputs read as, and of whether the domain runs compiled."""
    build = b"compiled" if compiled() else b"pure"
    digest = hashlib.sha256(b"shape %d\ninputs %d\n%s\n" % (PICKLED_SHAPE, INPUTS_READ_AS, build))
    for name, source in sorted(_sources(root), key=lambda f: f[0]):
        # Named by its place in trueup.domain, not on disk: the same code installed elsewhere
        # (another checkout, a moved venv) reads the snapshots it wrote.
        digest.update(name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _sources(folder: Any, within: str = "") -> list[tuple[str, Any]]:
    """Every .py file under ``folder``, each with its path from there."""
    found = []
    for entry in folder.iterdir():
        name = f"{within}/{entry.name}" if within else entry.name
        if entry.is_dir() and entry.name != "__pycache__":
            found += _sources(entry, name)
        elif entry.name.endswith(".py"):
            found.append((name, entry))
    return found


SNAPSHOT_FORMAT = source_digest(resources.files("trueup.domain"))
