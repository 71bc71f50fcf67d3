"""The collector as a command: ``python -m snowplow_tracker.testing --port 9090 --mode count``.

Prints ``listening on http://127.0.0.1:PORT``, then one JSON line per event in record mode,
and the final stats as one JSON line on SIGTERM or SIGINT. The collector's answers can be
scripted over HTTP: ``GET /_stats``, ``POST /_reset``, ``POST /_control``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import (
    BinaryIO,
    Callable,
    Optional,
    Sequence,
)

import orjson

from .server import Collector
from .state import MODES, Event

# -- command -----------------------------------------------------------------------------------


class _LineWriter:
    """Writes whole lines to a binary stream and flushes them, from any thread."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._broken = False

    def write(self, line: bytes) -> None:
        with self._lock:
            if self._broken:
                return
            try:
                self._stream.write(line + b"\n")
                self._stream.flush()
            except (OSError, ValueError):
                self._broken = True


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m snowplow_tracker.testing",
        description="A local Snowplow collector for tests, demos and benchmarks. Prints "
        "'listening on URL', then (record mode, unless --quiet) one JSON line per accepted "
        "event, and on SIGTERM or SIGINT the final stats as one JSON line.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="TCP port, 0 for a free one (0)")
    parser.add_argument("--mode", choices=MODES, default="record", help="record or count")
    parser.add_argument("--status", type=int, default=200, help="status answered (200)")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="do not print the events (use it when nobody reads stdout: a full pipe blocks)",
    )
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run a collector until SIGTERM or SIGINT (the ``python -m`` entry point).

    Args:
        argv: The command-line arguments without the program name; ``sys.argv[1:]`` if None.

    Returns:
        The exit status: 0, or 1 if the address cannot be bound, 2 on a bad argument.
    """
    args = _parse_args(argv)
    sys.stdout.flush()
    out = _LineWriter(sys.stdout.buffer)
    on_event: Optional[Callable[[Event], None]] = None
    if args.mode == "record" and not args.quiet:

        def on_event(event: Event) -> None:
            out.write(orjson.dumps(event))

    try:
        collector = Collector(args.host, args.port, args.mode, on_event=on_event)
        collector.respond_with(args.status)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        done.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            collector.start()
        except OSError as exc:
            print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        out.write(f"listening on {collector.url}".encode())
        while not done.wait(0.5):
            pass
    finally:
        collector.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.write(orjson.dumps(collector.stats()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
