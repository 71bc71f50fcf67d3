"""The public API is exported once, from the package, with a sorted and pinned ``__all__``."""

import logging

import snowplow_tracker

EXPECTED = [
    "AsyncEmitter",
    "CeleryEmitter",
    "ConfigurationError",
    "Emitter",
    "EmitterConfiguration",
    "EmitterStats",
    "EncodingError",
    "Event",
    "EventStore",
    "InMemoryEventStore",
    "PagePing",
    "PageView",
    "ProcessEmitter",
    "RedisEmitter",
    "RedisWorker",
    "RetryPolicy",
    "ScreenView",
    "SelfDescribing",
    "SelfDescribingJson",
    "SenderStartError",
    "Snowplow",
    "SnowplowError",
    "StructuredEvent",
    "Subject",
    "Tracker",
    "TrackerConfiguration",
    "ValidationError",
    "__version__",
    "disable_contracts",
    "enable_contracts",
    "logger",
    "register_metrics",
]


def test_all_is_pinned_and_sorted() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert snowplow_tracker.__all__ == EXPECTED
    assert sorted(snowplow_tracker.__all__) == snowplow_tracker.__all__


def test_every_exported_name_exists() -> None:
    """Each name in __all__ resolves on the package."""
    for name in snowplow_tracker.__all__:
        assert getattr(snowplow_tracker, name) is not None


def test_logger_is_the_package_logger_with_a_null_handler() -> None:
    """``from snowplow_tracker import logger`` is the unconfigured package logger."""
    assert snowplow_tracker.logger is logging.getLogger("snowplow_tracker")
    assert any(isinstance(h, logging.NullHandler) for h in snowplow_tracker.logger.handlers)


def test_version_is_the_wire_tracker_version() -> None:
    """``tv`` on the wire is py-<__version__>."""
    from snowplow_tracker._version import TRACKER_VERSION

    assert "py-" + snowplow_tracker.__version__ == TRACKER_VERSION
