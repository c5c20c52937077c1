"""The build: pyproject.toml says what trueup is; this adds, when TRUEUP_USE_MYPYC=1, the domain
compiled to C with mypyc (1.6x the reconciler's pace), and otherwise builds pure Python."""

import os
from pathlib import Path

from setuptools import setup

# Every module of the domain but these, and the packages' own modules (compiled, a package
# would work out its __path__ as though domain/ were trueup/domain/):
_PURE = {
    # msgspec structs, C already, which mypyc cannot compile as structs;
    "events.py",
    "emitted.py",
    # those of the classes msgspec decodes, from the stored events and the views, by their
    # annotations, which mypyc erases in every class it compiles (``str | None`` to ``type``;
    # tests/test_compiled_domain.py finds them);
    "pnl.py",
    "risk.py",
    "wallet.py",
    "rules/can_open.py",
    "rules/config.py",
    "coverage.py",
    # the triggers, which few inputs reach, and whose tests plant faults in their functions.
    "triggers/",
}


def _pure(module: str) -> bool:
    return any(module == kept or module.startswith(kept) for kept in _PURE if kept)


def _compiled_domain() -> list[object]:
    if os.environ.get("TRUEUP_USE_MYPYC") != "1":
        return []
    from mypyc.build import mypycify

    # mypyc names modules by their path: a tree of links names them trueup.domain.*
    tree = Path("build/mypyc-src/trueup")
    tree.mkdir(parents=True, exist_ok=True)
    link = tree / "domain"
    if not link.is_symlink():
        link.symlink_to(Path("../../../domain"))
    (tree / "__init__.py").touch()
    sources = sorted(
        str(path)
        for path in link.rglob("*.py")
        if path.name != "__init__.py" and not _pure(path.relative_to(link).as_posix())
    )
    return mypycify(
        ["--explicit-package-bases", *sources],
        group_name="trueup.domain.compiled",
        target_dir="build/mypyc",
    )


setup(ext_modules=_compiled_domain())
