"""Aster's user data stream (``/ws/<listenKey>``) through websocket-client: opened, asked
whether it is up or lost, closed. It never reconnects by itself; the feed's supervisor
opens a new one, with a listenKey asked afresh. The mark price stream's connection is one
too, which sends its SUBSCRIBE once open."""

import threading
import time
from collections.abc import Callable

import websocket

from trueup.adapters.supervised_feed import NOT_CONNECTED, close_quietly

OnText = Callable[[str], None]
# Our pings find a link that died without a word; Aster answers them (and pings us too).
PING_INTERVAL_S = 60.0
PING_TIMEOUT_S = 30.0


class UserStream:
    """One connection at a time; its URL (which holds the listenKey) is never logged."""

    def __init__(self, *, max_age_s: float) -> None:
        # Aster cuts a connection at 24 h: one older than ``max_age_s`` counts as lost.
        self.max_age_s = max_age_s
        self._app: websocket.WebSocketApp | None = None
        self._thread: threading.Thread | None = None
        self._opened_at: float | None = None
        self._lost: str | None = None
        self._on_open_send: str | None = None

    def open(self, url: str, on_text: OnText, *, on_open_send: str | None = None) -> None:
        """Connect to ``url``; ``on_open_send``, a request, is sent once connected."""
        self._opened_at, self._lost = None, None
        self._on_open_send = on_open_send
        app = websocket.WebSocketApp(
            url,
            on_open=self._on_open,
            on_message=lambda _app, text: on_text(text),
            on_error=self._on_error,
            on_close=self._on_close,
        )
        thread = threading.Thread(
            target=app.run_forever,
            kwargs={
                "ping_interval": PING_INTERVAL_S,
                "ping_timeout": PING_TIMEOUT_S,
                "reconnect": 0,
            },
            name="aster-user-stream",
            daemon=True,
        )
        self._app, self._thread = app, thread
        thread.start()

    def close(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            close_quietly(app.close)

    def end(self, why: str) -> None:
        """Take the connection as lost for ``why`` (the venue said it ends)."""
        self._lost = why

    def lost(self) -> str | None:
        if self._app is None or self._thread is None:
            return NOT_CONNECTED
        if self._lost is not None:
            return self._lost
        if not self._thread.is_alive():
            return "stream closed"
        opened = self._opened_at
        if opened is not None and time.monotonic() - opened >= self.max_age_s:
            return "connection at its age limit (Aster cuts one at 24 h)"
        return None

    def up(self) -> bool:
        return self._opened_at is not None and self.lost() is None

    # Each callback checks it is of the connection now held: one closed before may still
    # be saying its last words.

    def _on_open(self, app: websocket.WebSocketApp) -> None:
        if app is self._app:
            if self._on_open_send is not None:
                app.send(self._on_open_send)
            self._opened_at = time.monotonic()

    def _on_error(self, app: websocket.WebSocketApp, error: object) -> None:
        # The type only: a handshake error's text may quote the URL, and so the listenKey.
        if app is self._app:
            self._lost = self._lost or f"stream error: {type(error).__name__}"

    def _on_close(self, app: websocket.WebSocketApp, code: object, _reason: object) -> None:
        if app is self._app:
            closed = "stream closed" if code is None else f"stream closed ({code})"
            self._lost = self._lost or closed
