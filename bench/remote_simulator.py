"""The Bybit simulator in a process of its own, driven over a pipe, for the live benches.

In production the venue is remote: a simulator in the measured process would share its GIL
(its asyncio server, its handlers), and its work would be counted as trueup's latency.
Instants it reports (``RestAnswer.received``, ``push_ticker``'s) are time.perf_counter, the
system's monotonic clock on Linux: comparable with the measuring process's.
"""

import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Self

from trueup_simulators.bybit.simulator import BybitSimulator, RestAnswer

START_TIMEOUT_S = 30.0


class SimulatorFailed(RuntimeError):
    """The simulator's process raised on a call, or never started."""


def _open_position(sim: BybitSimulator, symbol: str, side: str, size: str, price: str) -> None:
    sim.open_position(symbol, side, size, price, mark_price=price)
    sim.tickers.set(symbol, mark_price=price)


def _push_ticker(sim: BybitSimulator, symbol: str, mark_price: str) -> float:
    start = time.perf_counter()
    sim.tickers.set(symbol, mark_price=mark_price)
    return start


def _wait_subscribed(sim: BybitSimulator, symbols: tuple[str, ...], timeout: float) -> bool:
    if not sim.wait_subscribed(timeout=timeout):
        return False
    return all(sim.tickers.wait_subscribed(symbol, timeout=timeout) for symbol in symbols)


def _rest_answers(sim: BybitSimulator) -> list[RestAnswer]:
    return sim.rest_answers()


CALLS: dict[str, Callable[..., object]] = {
    "open_position": _open_position,
    "push_ticker": _push_ticker,
    "wait_subscribed": _wait_subscribed,
    "rest_answers": _rest_answers,
}


def _serve(conn: Connection, api_key: str, api_secret: str) -> None:
    """The child: one simulator, answering calls until told to stop (or the pipe closes)."""
    with BybitSimulator(api_key=api_key, api_secret=api_secret) as sim:
        conn.send(sim.base_url)
        while True:
            try:
                name, args = conn.recv()
            except EOFError:
                return
            if name == "stop":
                conn.send(None)
                return
            try:
                conn.send(("ok", CALLS[name](sim, *args)))
            except Exception as error:  # told to the caller, the simulator goes on
                conn.send(("error", f"{type(error).__name__}: {error}"))


class RemoteBybitSimulator:
    """A BybitSimulator in a spawned process: the calls the trigger bench makes on it."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        context = multiprocessing.get_context("spawn")  # no threads of ours carried over
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, api_key, api_secret), name="bybit-simulator", daemon=True
        )
        self.base_url = ""

    def __enter__(self) -> Self:
        self._process.start()
        if not self._conn.poll(START_TIMEOUT_S):
            self._process.kill()
            raise SimulatorFailed("the simulator's process did not start")
        self.base_url = self._conn.recv()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self._conn.send(("stop", ()))
            self._conn.poll(START_TIMEOUT_S)
        finally:
            self._process.join(START_TIMEOUT_S)
            if self._process.is_alive():
                self._process.kill()

    def _call(self, name: str, *args: object) -> object:
        self._conn.send((name, args))
        outcome, value = self._conn.recv()
        if outcome == "error":
            raise SimulatorFailed(f"{name}: {value}")
        return value

    def open_position(self, symbol: str, side: str, size: str, price: str) -> None:
        """A position of ``size`` at ``price``, its mark and its ticker there too."""
        self._call("open_position", symbol, side, size, price)

    def push_ticker(self, symbol: str, mark_price: str) -> float:
        """Move ``symbol``'s ticker (only the ticker); the instant just before, in the child."""
        started = self._call("push_ticker", symbol, mark_price)
        assert isinstance(started, float)
        return started

    def wait_subscribed(self, symbols: tuple[str, ...], timeout: float) -> bool:
        """The private stream and every symbol's ticker subscribed, within ``timeout`` each."""
        return bool(self._call("wait_subscribed", symbols, timeout))

    def rest_answers(self) -> list[RestAnswer]:
        answers = self._call("rest_answers")
        assert isinstance(answers, list)
        return answers
