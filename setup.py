"""The build: pyproject.toml says what trueup is; this adds, when TRUEUP_USE_MYPYC=1, the
domain, the decoding of capture lines and the audit index's rows compiled to C with mypyc
(`make` does, in place), and otherwise builds pure Python, which behaves the same
(tests/test_compiled_domain.py)."""

import os
from pathlib import Path

from setuptools import setup

# Of the domain, every module but these (and the packages' own, __init__.py: compiled, a
# package would work out its __path__ as though domain/ were trueup/domain/):
DOMAIN_PURE = (
    # msgspec structs, C already, which mypyc cannot compile as structs;
    "events.py",
    "emitted.py",
    # those of the classes msgspec decodes, from the stored events and the views, by their
    # annotations, which mypyc erases in every class it compiles (``str | None`` to ``type``;
    # tests/test_compiled_domain.py finds them), and msgspec's structs besides them (the PnL
    # ledger and risk, which run for most inputs, are compiled apart from their records);
    "pnl_records.py",
    "risk_records.py",
    "wallet.py",
    "rules/can_open.py",
    "rules/config.py",
    "coverage.py",
    # the triggers, which few inputs reach, and whose tests plant faults in their functions.
    "triggers/",
)
# Of the adapters, what turns a capture line into an input: many small functions per line
# (not wire_errors.py: ccxt's CcxtError subclasses its ErrorReply in Python, which a compiled
# exception class refuses).
ADAPTERS_COMPILED = (
    "capture.py",
    "decimals.py",
    "envelope.py",
    "intents.py",
    "payload.py",
    "snapshot_pages.py",
    "bybit/tickers.py",
    "bybit/wire.py",
    "hyperliquid/mids.py",
    "hyperliquid/records.py",
    "hyperliquid/wire.py",
    "aster/mark_prices.py",
    "aster/records.py",
    "aster/wire.py",
    # and what an append files in the audit index beside each input,
    "store/audit_index.py",
    # and what makes a decoded input's repeated values one object each: every input a
    # replay or a worker reads.
    "store/sharing.py",
)


def compiled_modules() -> list[Path]:
    """The sources compiled, each as trueup/<folder>/... under a tree of links, for mypyc
    names modules by their paths."""
    tree = Path("build/mypyc-src/trueup")
    tree.mkdir(parents=True, exist_ok=True)
    (tree / "__init__.py").touch()
    for folder in ("domain", "adapters"):
        if not (tree / folder).is_symlink():
            (tree / folder).symlink_to(Path("../../..") / folder)
    domain = [
        path
        for path in (tree / "domain").rglob("*.py")
        if path.name != "__init__.py"
        and not path.relative_to(tree / "domain").as_posix().startswith(DOMAIN_PURE)
    ]
    return sorted(domain) + [tree / "adapters" / module for module in ADAPTERS_COMPILED]


def extensions() -> list[object]:
    if os.environ.get("TRUEUP_USE_MYPYC") != "1":
        return []
    from mypyc.build import mypycify

    return mypycify(
        ["--explicit-package-bases", *map(str, compiled_modules())],
        # One library for all, so calls between modules stay native: it lies in the domain.
        group_name="trueup.domain.compiled",
        target_dir="build/mypyc",
    )


setup(ext_modules=extensions())
