"""How results look to people (text) and to programs (JSON, decimals as strings)."""

import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from trueup.projections.audit import JSON, Audit, TimelineEntry


def moment(at: int) -> str:
    """Epoch milliseconds as a UTC timestamp people can read."""
    return datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def write_json(value: Any, out: TextIO = sys.stdout) -> None:
    out.write(orjson.dumps(value, default=str).decode())
    out.write("\n")


def describe_state(state: JSON) -> str:
    exchange = state["exchange"]
    if exchange is None:
        there = "exchange: never seen"
    elif exchange["size"] in ("0", "0.0") or not exchange["side"]:
        there = f"exchange: flat (seq {exchange['seq']})"
    else:
        there = (
            f"exchange: {exchange['side']} {exchange['size']} @ {exchange['entry_price']} "
            f"(seq {exchange['seq']})"
        )
    local = state["local"]
    open_ids = [
        f"{p['position_id']} {p['mode']} {p['side']} {p['qty']} TP1 {p['tp1']}"
        for p in local["positions"]
        if p["status"] == "OPEN"
    ]
    mine = f"local: {local['qty']}" + (f" [{'; '.join(open_ids)}]" if open_ids else "")
    return f"{there} | {mine}"


def timeline_line(entry: TimelineEntry) -> str:
    kind = entry.type + (f"({entry.source})" if entry.source else "")
    return f"  {moment(entry.at)}  {kind:<26} {describe_state(entry.state)}"


def print_audit(result: Audit, out: TextIO = sys.stdout) -> None:
    for key in result.keys:
        out.write(f"{key.label()}\n")
        for entry in result.timeline:
            if entry.key == key:
                out.write(timeline_line(entry) + "\n")
        when = f"as of {moment(result.as_of)}" if result.as_of is not None else "now"
        out.write(f"  {when}: {describe_state(result.state(key))}\n")


def audit_json(result: Audit) -> JSON:
    """One object per DESIGN.md: ``state`` and ``timeline`` (of the single key asked)."""
    keys = result.keys
    key = keys[0]
    return {
        "venue": key.venue,
        "account": key.account,
        "category": key.category,
        "symbol": key.symbol,
        "position_idx": key.position_idx,
        "as_of": result.as_of,
        "state": result.state(key),
        "timeline": [
            {
                "at": e.at,
                "type": e.type,
                "source": e.source,
                "input_id": e.input_id,
                "state": e.state,
            }
            for e in result.timeline
            if e.key == key
        ],
    }
