"""The domain as `make` builds it, compiled by mypyc beside its sources (setup.py), and as
pure Python: whether the build is older than the sources, and how a process runs the sources."""

from pathlib import Path

DOMAIN = Path(__file__).resolve().parent.parent / "domain"


def stale() -> list[Path]:
    """The domain's sources changed since its compiled modules were built (none built: none)."""
    built = list(DOMAIN.rglob("*.so"))
    if not built:
        return []
    oldest = min(module.stat().st_mtime for module in built)
    return sorted(source for source in DOMAIN.rglob("*.py") if source.stat().st_mtime > oldest)


# Code run first in a Python process, before it imports trueup: from then on its imports of
# the domain take the sources, whatever lies compiled beside them.
SOURCES_ONLY = f"""
import sys
from importlib.machinery import SOURCE_SUFFIXES, FileFinder, SourceFileLoader

def _sources_only(path, root={str(DOMAIN)!r}):
    if not path.startswith(root):
        raise ImportError(path)
    return FileFinder(path, (SourceFileLoader, SOURCE_SUFFIXES))

sys.path_hooks.insert(0, _sources_only)
sys.path_importer_cache.clear()
"""
