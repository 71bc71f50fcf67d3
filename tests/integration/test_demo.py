"""The README's main job: ``python -m snowplow_tracker.demo``."""

import json

import pytest

from snowplow_tracker import demo


def test_demo_prints_every_event_kind_received_by_the_local_collector(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The demo tracks every kind by POST and GET and prints what the collector decoded."""
    assert demo.main([]) == 0
    out = capsys.readouterr().out
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    kinds = {e["e"] for e in events}
    assert kinds == {"pv", "pp", "ue", "tr", "ti", "se"}
    assert len(events) == 2 * 15  # 14 calls, one a transaction with one item; POST then GET
    assert "POST /com.snowplowanalytics.snowplow/tp2 -> HTTP 200" in out
    assert "GET /i -> HTTP 200" in out
    page_view = next(e for e in events if e["e"] == "pv")
    assert page_view["page"] == "Café ✓"
    struct = next(e for e in events if e["e"] == "se")
    assert struct["cx"]["data"][0]["data"] == {"café": "✓", "n": 1}
