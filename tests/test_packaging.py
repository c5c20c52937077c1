"""What `pip install trueup` ships: every package of the source tree, so an install that is
not editable misses none (the editable one `make` does would hide the gap)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
TOP = ("application", "domain", "projections", "adapters", "runners", "client")


def test_every_package_of_the_source_tree_is_listed_for_the_distribution() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        "trueup." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in TOP
        for init in (ROOT / top).rglob("__init__.py")
    }
    # And every folder of files alone (the page `trueup serve` serves): setuptools ships
    # one unlisted today, but warns that it will stop.
    found |= {
        "trueup." + ".".join(folder.relative_to(ROOT).parts)
        for top in TOP
        for folder in (ROOT / top).rglob("*")
        if folder.is_dir()
        and folder.name != "__pycache__"
        and not (folder / "__init__.py").exists()
        and any(f.is_file() for f in folder.iterdir())
    }
    assert found == listed


def test_every_simulator_package_is_listed_too() -> None:
    simulators = ROOT / "simulators"
    listed = set(
        tomllib.loads((simulators / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(simulators).parts)
        for init in (simulators / "trueup_simulators").rglob("__init__.py")
    }
    assert found == listed
