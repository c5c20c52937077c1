"""The page at ``/``: the reconciled positions, kept live by the event stream, and the chosen
position's audit as a chart. Its assets ship in the package (runners/page/): nothing is
fetched from elsewhere."""

from importlib import resources

import orjson
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from trueup.domain.emitted import EMITTED_TYPES
from trueup.domain.events import INPUT_EVENT_TYPES

_PAGE = resources.files("trueup.runners") / "page"
# The assets a browser may ask for, by name: nothing else of the package is served.
ASSETS = {
    "uplot.iife.min.js": "text/javascript",
    "uplot.min.css": "text/css",
    "audit.js": "text/javascript",
    "index.js": "text/javascript",
}


def _index() -> str:
    # The stream names each event by its type: the page listens for every one there is.
    types = sorted([t.type for t in INPUT_EVENT_TYPES] + [t.type for t in EMITTED_TYPES])
    page = (_PAGE / "index.html").read_text(encoding="utf-8")
    return page.replace("/*EVENT_TYPES*/[]", orjson.dumps(types).decode(), 1)


def add_page(app: FastAPI) -> None:
    """Serve the page at ``/`` and its assets under ``/page/``; not part of the API."""
    index = _index()
    # Read once: they are part of the installed package and never change under a server.
    assets = {name: (_PAGE / name).read_bytes() for name in ASSETS}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(index)

    @app.get("/page/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        kind = ASSETS.get(name)
        if kind is None:
            raise HTTPException(404, f"no asset {name!r}")
        return Response(assets[name], media_type=kind, headers={"Cache-Control": "no-cache"})
