"""The modules `make` compiles with mypyc beside their sources (setup.py: the domain, and the
decoding of capture lines), and the same code as pure Python: whether a build is older than
its sources, and how a process runs the sources instead."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = (ROOT / "domain", ROOT / "adapters")


def stale() -> list[Path]:
    """The sources changed since the modules compiled beside them were built."""
    changed = []
    for folder in FOLDERS:
        for built in folder.rglob("*.so"):
            source = built.with_name(built.name.split(".")[0] + ".py")
            if source.exists() and source.stat().st_mtime > built.stat().st_mtime:
                changed.append(source)
    return sorted(changed)


# Code run first in a Python process, before it imports trueup: from then on its imports of
# the domain and the adapters take the sources, whatever lies compiled beside them.
SOURCES_ONLY = f"""
import sys
from importlib.machinery import SOURCE_SUFFIXES, FileFinder, SourceFileLoader

def _sources_only(path, roots={tuple(str(folder) for folder in FOLDERS)!r}):
    if not path.startswith(roots):
        raise ImportError(path)
    return FileFinder(path, (SourceFileLoader, SOURCE_SUFFIXES))

sys.path_hooks.insert(0, _sources_only)
sys.path_importer_cache.clear()
"""
