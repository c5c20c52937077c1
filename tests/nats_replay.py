"""A publishing process for the NATS fault test: a capture replayed through the runner's own
spool and publisher (as `trueup run --nats` publishes its inputs), a line every PACE
milliseconds, that takes up where it stopped after a kill -9.

    python -m tests.nats_replay CAPTURE STATE_DIR NATS_URL PREFIX PACE_MS

STATE_DIR holds the spool (with its ``.offset``) and ``replay.progress``, the number of
lines spooled. The progress is written after each line is spooled, never before: a kill
between the two spools that line again on restart, and JetStream stores it once (its input
id is its Nats-Msg-Id); written first, the line would be skipped. Once every line is
spooled it stays up, publishing, until SIGTERM, then drains the spool as a run does.
"""

import logging
import signal
import sys
import threading
from pathlib import Path

from trueup.adapters.capture import decode_line
from trueup.adapters.nats.publisher import Publisher
from trueup.adapters.nats.spool import Spool
from trueup.adapters.nats.subjects import Subjects

SPOOL_BYTES = 64 << 20
DONE = "every line spooled"


def read_progress(path: Path) -> int:
    try:
        return int(path.read_text() or 0)
    except FileNotFoundError:
        return 0


def write_progress(path: Path, count: int) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(str(count))
    partial.replace(path)  # whole or not at all, whenever the kill comes


def replay(capture: Path, state: Path, url: str, prefix: str, pace_s: float) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lines = capture.read_bytes().splitlines()
    progress = state / "replay.progress"
    spool = Spool(state / "replay.nats-spool", SPOOL_BYTES)
    publisher = Publisher(url, Subjects(prefix), spool, "trueup fault-test replay")
    publisher.start()
    start = read_progress(progress)
    print(f"replaying from line {start} of {len(lines)}", flush=True)
    for number in range(start, len(lines)):
        if stop.wait(pace_s):
            break
        publisher.input(decode_line(lines[number]), lines[number])
        write_progress(progress, number + 1)
    else:
        print(DONE, flush=True)
        stop.wait()
    publisher.stop()
    print(f"stopped: {spool.waiting_bytes} bytes left in the spool", flush=True)
    spool.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    capture, state, url, prefix, pace_ms = sys.argv[1:]
    replay(Path(capture), Path(state), url, prefix, int(pace_ms) / 1000)


if __name__ == "__main__":
    main()
