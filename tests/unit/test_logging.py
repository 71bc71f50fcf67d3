"""Unit tests of :mod:`snowplow_tracker._logging`: the package logger and :class:`ThrottledLog`."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

import snowplow_tracker
from snowplow_tracker import _logging
from snowplow_tracker._logging import ThrottledLog

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """Stands in for the ``time`` module of ``_logging``: a monotonic clock moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(now=1000.0)
    monkeypatch.setattr(_logging, "time", fake)
    return fake


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="snowplow_tracker"):
        yield caplog


def records(caplog: pytest.LogCaptureFixture) -> List[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "snowplow_tracker"]


def messages(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in records(caplog)]


# -- the package logger -------------------------------------------------------------------------


def test_package_logger_is_named_snowplow_tracker_and_exported() -> None:
    assert _logging.logger is logging.getLogger("snowplow_tracker")
    assert snowplow_tracker.logger is _logging.logger


def test_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("snowplow_tracker").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_library_sets_no_level_and_keeps_propagation() -> None:
    logger = logging.getLogger("snowplow_tracker")
    assert logger.level == logging.NOTSET
    assert logger.propagate
    assert not any(not isinstance(h, logging.NullHandler) for h in logger.handlers)


# -- ThrottledLog -------------------------------------------------------------------------------


def test_throttled_log_logs_the_first_record_at_once(
    clock: FakeClock, logs: pytest.LogCaptureFixture
) -> None:
    clock.now = 1.0  # a monotonic clock may be small (just after boot)
    ThrottledLog(interval=10).log("request to %s failed: %s", "http://c/i", "HTTP 503")
    assert messages(logs) == ["request to http://c/i failed: HTTP 503"]
    assert records(logs)[0].levelno == logging.WARNING


def test_throttled_log_emits_once_per_interval_with_the_suppressed_count(
    clock: FakeClock, logs: pytest.LogCaptureFixture
) -> None:
    log = ThrottledLog(interval=10)
    log.log("dropped %d event(s)", 1)
    for i in range(4):
        clock.now += 2  # still within the interval
        log.log("dropped %d event(s)", i + 2)
    assert messages(logs) == ["dropped 1 event(s)"]
    clock.now += 2.0  # 10 s after the first record
    log.log("dropped %d event(s)", 6)
    clock.now += 1
    log.log("dropped %d event(s)", 7)
    assert messages(logs) == [
        "dropped 1 event(s)",
        "dropped 6 event(s) (4 similar messages suppressed)",
    ]
    clock.now += 10
    log.log("dropped %d event(s)", 8)
    assert messages(logs)[-1] == "dropped 8 event(s) (1 similar messages suppressed)"
    clock.now += 10
    log.log("dropped %d event(s)", 9)
    assert messages(logs)[-1] == "dropped 9 event(s)"


def test_throttled_log_uses_its_level(clock: FakeClock, logs: pytest.LogCaptureFixture) -> None:
    ThrottledLog(level=logging.ERROR).log("boom")
    assert [r.levelno for r in records(logs)] == [logging.ERROR]


def test_throttled_logs_are_independent(clock: FakeClock, logs: pytest.LogCaptureFixture) -> None:
    first, second = ThrottledLog(), ThrottledLog()
    first.log("a")
    second.log("b")
    first.log("a again")
    assert messages(logs) == ["a", "b"]


def test_throttled_log_can_attach_the_current_exception(
    clock: FakeClock, logs: pytest.LogCaptureFixture
) -> None:
    log = ThrottledLog()
    try:
        raise RuntimeError("callback failed")
    except RuntimeError:
        log.log("a callback raised", exc_info=True)
    assert messages(logs) == ["a callback raised"]
    exc_info = records(logs)[0].exc_info
    assert exc_info is not None and isinstance(exc_info[1], RuntimeError)


def test_an_unconfigured_program_prints_no_library_warnings() -> None:
    # The NullHandler keeps Python's "last resort" handler from printing warnings to stderr.
    code = "from snowplow_tracker._logging import ThrottledLog; ThrottledLog().log('not printed')"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stderr == ""
