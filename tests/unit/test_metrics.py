"""``register_metrics``: every integer key of ``stats()`` becomes a Prometheus metric family."""

from __future__ import annotations

import gc
from typing import Any, Dict

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from snowplow_tracker import ConfigurationError, EmitterStats, register_metrics


class FakeStats:
    """An object with ``stats()`` returning what a future emitter might report."""

    def __init__(self, values: Dict[str, Any]) -> None:
        self.values = values

    def stats(self) -> Dict[str, Any]:
        return dict(self.values)


def scrape(registry: CollectorRegistry) -> Dict[str, Any]:
    """``{family name: (type, {emitter label: value})}`` from the text exposition."""
    text = generate_latest(registry).decode()
    out: Dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        samples = {s.labels["emitter"]: s.value for s in family.samples if "emitter" in s.labels}
        out[family.name] = (family.type, samples)
    return out


def test_every_integer_key_is_exported_and_new_keys_need_no_change() -> None:
    """Keys unknown today (``throttled``) appear as counters; levels as gauges; other types
    are left out."""
    registry = CollectorRegistry()
    source = FakeStats({"sent": 3, "throttled": 2, "queued_requests": 4, "endpoint": "x"})
    register_metrics(source, name="a", registry=registry)
    got = scrape(registry)
    assert got["snowplow_tracker_sent"] == ("counter", {"a": 3.0})
    assert got["snowplow_tracker_throttled"] == ("counter", {"a": 2.0})
    assert got["snowplow_tracker_queued_requests"] == ("gauge", {"a": 4.0})
    assert not [name for name in got if "endpoint" in name]
    source.values["throttled"] = 5  # read at scrape time
    assert scrape(registry)["snowplow_tracker_throttled"] == ("counter", {"a": 5.0})


def test_help_comes_from_the_stats_class_docstring() -> None:
    registry = CollectorRegistry()

    class Source:
        def stats(self) -> EmitterStats:
            return EmitterStats(sent=1, queued_bytes=10)

    source = Source()
    register_metrics(source, name="doc", registry=registry)
    text = generate_latest(registry).decode()
    assert "# HELP snowplow_tracker_sent_total Events the collector accepted (2xx/3xx)" in text
    assert "# TYPE snowplow_tracker_queued_bytes gauge" in text
    assert "# TYPE snowplow_tracker_in_flight gauge" in text
    assert "# TYPE snowplow_tracker_senders_alive gauge" in text
    assert "# TYPE snowplow_tracker_dropped_total counter" in text


def test_two_emitters_share_the_families_and_a_collected_one_disappears() -> None:
    registry = CollectorRegistry()
    first, second = FakeStats({"sent": 1}), FakeStats({"sent": 2})
    register_metrics(first, name="first", registry=registry)
    register_metrics(second, name="second", registry=registry)
    register_metrics(second, name="second", registry=registry)  # the same again: no change
    assert scrape(registry)["snowplow_tracker_sent"] == ("counter", {"first": 1.0, "second": 2.0})
    del first
    gc.collect()
    assert scrape(registry)["snowplow_tracker_sent"] == ("counter", {"second": 2.0})
    register_metrics(FakeStats({"sent": 7}), name="first", registry=registry)  # name is free


def test_a_failing_stats_does_not_fail_the_scrape() -> None:
    registry = CollectorRegistry()

    class Broken:
        def stats(self) -> Dict[str, int]:
            raise RuntimeError("boom")

    broken, good = Broken(), FakeStats({"sent": 1})
    register_metrics(broken, name="broken", registry=registry)
    register_metrics(good, name="good", registry=registry)
    assert scrape(registry)["snowplow_tracker_sent"] == ("counter", {"good": 1.0})


@pytest.mark.parametrize(
    ("emitter", "name", "message"),
    [
        (object(), "x", "register_metrics: argument 'emitter' must be an object with a stats()"),
        (FakeStats({}), "", "register_metrics: argument 'name' must be a non-empty string, got ''"),
        (FakeStats({}), 3, "register_metrics: argument 'name' must be a non-empty string, got 3"),
    ],
)
def test_bad_arguments_raise_configuration_error(emitter: Any, name: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        register_metrics(emitter, name=name, registry=CollectorRegistry())
    assert str(err.value).startswith(message)


def test_a_name_held_by_another_live_emitter_is_refused() -> None:
    registry = CollectorRegistry()
    first = FakeStats({"sent": 1})
    register_metrics(first, name="api", registry=registry)
    with pytest.raises(ConfigurationError, match="argument 'name' must be a name no other live"):
        register_metrics(FakeStats({"sent": 2}), name="api", registry=registry)
    assert scrape(registry)["snowplow_tracker_sent"] == ("counter", {"api": 1.0})
