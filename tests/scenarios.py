"""Long, busy, deterministic sessions for tests that need volume: many symbols, every rule."""

import random
from pathlib import Path
from typing import Any

from tests.inputs import (
    T0,
    execution_frame,
    intent,
    line,
    order_frame,
    position_frame,
    position_snapshot,
)
from trueup.adapters.bybit import messages

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")


def busy_session(inputs: int, seed: int = 7) -> list[dict[str, Any]]:
    """About ``inputs`` capture records of one LIVE account trading several symbols."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = [intent(T0, kind="account_mode", mode="LIVE")]
    at, seq, opened = T0 + 1_000, 1, 0
    sizes: dict[str, str] = {}
    while len(records) < inputs:
        at += rng.randint(0, 2_500)
        seq += 1
        symbol = rng.choice(SYMBOLS)
        roll = rng.random()
        if roll < 0.15:
            opened += 1
            pid = f"p-{opened}"
            qty = rng.choice(["0.1", "0.5", "1"])
            mode = "PAPER" if rng.random() < 0.1 else "LIVE"
            records.append(
                intent(
                    at,
                    kind="position_opened",
                    position_id=pid,
                    category="linear",
                    symbol=symbol,
                    position_idx=0,
                    side="Buy",
                    qty=qty,
                    mode=mode,
                )
            )
            link = f"{pid}-entry"
            records.append(
                intent(
                    at,
                    kind="order_placed",
                    position_id=pid,
                    order_link_id=link,
                    category="linear",
                    symbol=symbol,
                    purpose="ENTRY",
                    side="Buy",
                    qty=qty,
                )
            )
            if rng.random() < 0.8:
                records.append(
                    order_frame(
                        at + 50,
                        symbol=symbol,
                        order_id=f"o-{opened}",
                        order_link_id=link,
                        side="Buy",
                        qty=qty,
                        status="Filled",
                        cum_exec_qty=qty,
                        updated_time=at + 50,
                    )
                )
                records.append(
                    execution_frame(
                        at + 60,
                        {
                            "symbol": symbol,
                            "exec_id": f"e-{opened}",
                            "order_id": f"o-{opened}",
                            "order_link_id": link,
                            "side": "Buy",
                            "exec_price": "100",
                            "exec_qty": qty,
                            "exec_time": at + 60,
                            "seq": seq,
                        },
                    )
                )
        elif roll < 0.55:
            size = rng.choice(["0", "0", "0.1", "0.5", "1", "1.5"])
            sizes[symbol] = size
            records.append(
                position_frame(
                    at,
                    symbol=symbol,
                    side="" if size == "0" else "Buy",
                    size=size,
                    seq=seq,
                    updated_time=at,
                )
            )
        elif roll < 0.65:
            listed = [
                {"symbol": s, "side": "Buy", "size": z, "seq": seq, "updated_time": at}
                for s, z in sorted(sizes.items())
                if z != "0"
            ]
            records.append(position_snapshot(at, *listed))
        elif roll < 0.72 and opened:
            pid = f"p-{rng.randint(1, opened)}"
            records.append(intent(at, kind="position_closed", position_id=pid, exit_reason="TP2"))
        elif roll < 0.75:
            body = messages.rest_error(10006, "Too many visits!", time=at)
            records.append(
                messages.capture_rest(
                    at,
                    "main",
                    "/v5/position/list",
                    {"category": "linear", "settleCoin": "USDT"},
                    body,
                )
            )
        else:
            records.append({"at": at, "channel": "clock"})
    return records


def busy_capture(path: Path, account: str, inputs: int, seed: int) -> Path:
    """A busy session of one LIVE account (``account``), written as a capture file."""
    records = busy_session(inputs, seed=seed)
    path.write_bytes(b"\n".join(line({**r, "account": account}) for r in records) + b"\n")
    return path
