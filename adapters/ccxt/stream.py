"""ccxt.pro's watch methods in an event loop of their own, each result handed on as it comes.

The supervisor's stream, for an exchange ccxt.pro can watch: built afresh on every
(re)connect (a ccxt.pro exchange belongs to the loop it first ran on), lost as soon as any
watch raises (a dropped connection is ccxt's NetworkError).
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("trueup.ccxt")

CLOSE_TIMEOUT_S = 10.0
# Each watch method trueup reads, by its capture endpoint. watchPositions is not among them:
# ccxt.pro keys its position cache by side, which its aster parser leaves null in one-way
# mode (the watch then never answers); positions come from the fetchPositions snapshots.
WATCHES = {"watch_orders": "watchOrders", "watch_my_trades": "watchMyTrades"}


def watchable(exchange: Any) -> tuple[str, ...]:
    """The watch methods of WATCHES the ccxt.pro exchange has."""
    return tuple(method for method, name in WATCHES.items() if exchange.has.get(name))


class WatchStream:
    """The watch methods of one ccxt.pro exchange, run until one raises or it is closed."""

    def __init__(
        self,
        build: Callable[[], Any],
        hand_on: Callable[[str, list[Any]], None],
    ) -> None:
        self._build = build
        self._hand_on = hand_on
        self._exchange: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lost: str | None = None
        self._came_up = False
        self._watches = 0

    def open(self) -> None:
        """Build the exchange and start every watch it has (returns at once)."""
        self.close()
        self._lost = None
        self._came_up = False
        self._exchange = self._build()
        methods = watchable(self._exchange)
        self._watches = len(methods)
        if not methods:
            raise RuntimeError(f"ccxt.pro's {self._exchange.id} watches neither orders nor trades")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="ccxt-watch", daemon=True)
        self._thread.start()
        for method in methods:
            asyncio.run_coroutine_threadsafe(self._watch(self._exchange, method), loop)

    async def _watch(self, exchange: Any, method: str) -> None:
        while self._lost is None:
            try:
                result = await getattr(exchange, method)()
            except Exception as error:  # ccxt's NetworkError on a drop, whatever else on a bug
                self._lost = self._lost or f"{WATCHES[method]}: {type(error).__name__}"
                log.warning("ccxt %s ended: %s", WATCHES[method], type(error).__name__)
                return
            try:
                self._hand_on(WATCHES[method], list(result))
            except Exception:
                log.exception("could not hand on a ccxt %s result", WATCHES[method])

    def lost(self) -> str | None:
        return self._lost

    def up(self) -> bool:
        """Whether every watch has subscribed on an open connection, and none was lost since:
        one still subscribing would miss what comes meanwhile (the resync after it covers)."""
        if self._lost is not None or self._exchange is None:
            return False
        if not self._came_up:
            try:
                clients = list(getattr(self._exchange, "clients", {}).values())
                waiting = sum(len(getattr(client, "futures", {})) for client in clients)
            except RuntimeError:  # changed by the loop's thread while read: asked again
                return False
            connected = bool(clients) and all(_connected(client) for client in clients)
            # Latched: between one result and its next call a watch waits on nothing.
            self._came_up = connected and waiting >= self._watches
        return self._came_up

    def close(self) -> None:
        """Close the exchange's connections and stop the loop, whatever state they are in."""
        loop, thread, exchange = self._loop, self._thread, self._exchange
        self._loop = self._thread = self._exchange = None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(_shut(exchange), loop).result(CLOSE_TIMEOUT_S)
        except Exception:
            log.debug("closing a ccxt.pro exchange", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=CLOSE_TIMEOUT_S)
        if not loop.is_running():
            loop.close()


async def _shut(exchange: Any) -> None:
    """Close the exchange's connections, then end every watch still waiting."""
    if exchange is not None:
        try:
            await exchange.close()
        except Exception:
            log.debug("closing a ccxt.pro exchange", exc_info=True)
    waiting = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


def _connected(client: Any) -> bool:
    future = getattr(client, "connected", None)
    return (
        future is not None
        and future.done()
        and not future.cancelled()
        and future.exception() is None
    )
