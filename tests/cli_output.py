"""What a trueup command prints as JSON lines, for tests that read its output."""

from typing import Any

import orjson
import pytest

from trueup.runners.cli import main


def json_lines(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> list[Any]:
    """Run ``trueup --store URL ARGS...``, which must succeed, and parse each line it prints."""
    capsys.readouterr()
    assert main(["--store", url, *args]) == 0
    return [orjson.loads(text) for text in capsys.readouterr().out.splitlines()]
