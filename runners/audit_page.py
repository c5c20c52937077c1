"""The audit of one position as one self-contained HTML file, for a bug report: its timeline
as a chart of local and exchange quantity, what trueup said as markers, each input's detail
on hover. The chart library (uPlot, MIT) ships inside the page: nothing is fetched."""

from importlib import resources
from typing import Any

import orjson

JSON = dict[str, Any]
_PAGE = resources.files("trueup.runners") / "page"


def _asset(name: str) -> str:
    return (_PAGE / name).read_text(encoding="utf-8")


def _embedded(data: object) -> str:
    # JSON inside <script>: no "</script>" (or "<!--") an input could smuggle in ends it.
    text = orjson.dumps(data).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def audit_page(audit: JSON, emitted: list[JSON]) -> str:
    """The page for ``audit`` (as ``trueup audit --json`` prints it) and the emitted events
    about its position (as ``trueup events --json`` prints them)."""
    page = _asset("audit.html")
    for marker, text in (
        ("/*UPLOT_CSS*/", _asset("uplot.min.css")),
        ("/*UPLOT_JS*/", _asset("uplot.iife.min.js")),
        ("/*AUDIT_JS*/", _asset("audit.js")),
    ):
        page = page.replace(marker, text, 1)
    # Last, so nothing in the data is taken for a marker.
    return page.replace("/*DATA*/", _embedded({"audit": audit, "emitted": emitted}), 1)
