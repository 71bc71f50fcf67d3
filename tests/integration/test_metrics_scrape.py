"""Prometheus metrics of real emitters, scraped over HTTP after sending to the real collector."""

from __future__ import annotations

import urllib.request
from typing import Dict, Tuple

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from snowplow_tracker import Emitter, ProcessEmitter, Tracker, register_metrics
from snowplow_tracker.testing import Collector


def scrape(port: int) -> Dict[Tuple[str, str], float]:
    """``{(sample name, emitter label): value}`` from ``GET /metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, s.labels["emitter"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if "emitter" in s.labels
    }


def test_metrics_endpoint_exports_every_emitters_stats(
    collector: Collector, refused_endpoint: str
) -> None:
    """Sent, failed and accepted counters and the queue gauges, one label per emitter."""
    registry = CollectorRegistry()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    port = server.server_port
    process = ProcessEmitter(collector.endpoint, method="post", buffer_size=5, process_count=1)
    down = Emitter(refused_endpoint, method="post", buffer_size=1)
    try:
        register_metrics(process, name="api", registry=registry)
        register_metrics(down, name="down", registry=registry)
        tracker = Tracker([process, down], namespace="m")
        for i in range(6):
            tracker.track_page_view(f"https://shop.example/{i}")
        assert process.flush(timeout=20)
        assert collector.wait_for_events(6)
        got = scrape(port)
        assert got[("snowplow_tracker_accepted_total", "api")] == 6
        assert got[("snowplow_tracker_sent_total", "api")] == 6
        assert got[("snowplow_tracker_failed_total", "api")] == 0
        assert got[("snowplow_tracker_dropped_total", "api")] == 0
        assert got[("snowplow_tracker_retried_total", "api")] == 0
        assert got[("snowplow_tracker_queued", "api")] == 0
        assert got[("snowplow_tracker_queued_bytes", "api")] == 0
        assert got[("snowplow_tracker_in_flight", "api")] == 0
        assert got[("snowplow_tracker_senders_alive", "api")] == 1
        assert got[("snowplow_tracker_sent_total", "down")] == 0
        assert got[("snowplow_tracker_failed_total", "down")] == 6
    finally:
        process.close(10)
        server.shutdown()
        server.server_close()
        thread.join(10)
