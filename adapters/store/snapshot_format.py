"""The format a snapshot (snapshots.py) is valid for: a digest of every source file of
``trueup.domain``, the state's shape and the rules that made it. On its own, so that what
only checks a format (the persisted views) loads no reconciler."""

import hashlib
from importlib import resources
from typing import Any


def _domain_digest() -> str:
    digest = hashlib.sha256()
    root = resources.files("trueup.domain")
    for path in sorted(_sources(root), key=str):
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _sources(folder: Any) -> list[Any]:
    found = []
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name != "__pycache__":
            found += [f for f in _sources(entry)]
        elif entry.name.endswith(".py"):
            found.append(entry)
    return found


SNAPSHOT_FORMAT = _domain_digest()
