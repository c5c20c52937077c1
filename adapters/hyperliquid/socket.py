"""The SDK's WebsocketManager as a supervised feed holds it: opened with its subscriptions,
asked whether it is up or lost, closed. The SDK never reconnects: SupervisedFeed opens a
new one instead."""

from collections.abc import Callable
from typing import Any

from hyperliquid.websocket_manager import WebsocketManager

from trueup.adapters.supervised_feed import NOT_CONNECTED, close_quietly

OnMessage = Callable[[dict[str, Any]], None]


class SdkSocket:
    """One WebsocketManager at a time for a feed."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._ws: WebsocketManager | None = None

    def open(self, subscriptions: list[dict[str, Any]], on_message: OnMessage) -> None:
        ws = WebsocketManager(self.base_url)
        ws.daemon = True
        ws.start()
        for subscription in subscriptions:
            ws.subscribe(subscription, on_message)
        self._ws = ws

    def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            close_quietly(ws.stop)

    def lost(self) -> str | None:
        if self._ws is None:
            return NOT_CONNECTED
        if not self._ws.is_alive():
            return "stream closed"
        return None

    def up(self) -> bool:
        # The SDK's thread runs from the start; the stream is up once the socket opened.
        ws = self._ws
        return ws is not None and ws.is_alive() and bool(getattr(ws, "ws_ready", False))
