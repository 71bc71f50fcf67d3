"""give_back_memory returns freed heap pages to the OS (glibc's malloc_trim)."""

from __future__ import annotations

import platform

import orjson
import psutil

from snowplow_tracker.delivery.memory import give_back_memory


def test_freed_orjson_buffers_are_given_back_to_the_os() -> None:
    """RSS held by freed orjson output (several KB per dump) drops after give_back_memory."""
    if platform.libc_ver()[0] != "glibc":
        assert give_back_memory() is False
        return
    process = psutil.Process()
    held = [orjson.dumps({"e": "se", "i": i}) for i in range(20_000)]  # ~80 MB of buffers
    before = process.memory_info().rss
    del held
    assert give_back_memory() is True
    after = process.memory_info().rss
    assert before - after > 40 * 1024 * 1024


def test_heap_watermark_says_drained_once_per_large_burst() -> None:
    """A peak over the threshold that drains to an eighth triggers one trim, then re-arms."""
    from snowplow_tracker.delivery.memory import HeapWatermark

    mark = HeapWatermark(threshold=1000)
    mark.note(500)
    assert not mark.drained(0)  # a small peak is not worth a trim
    mark.note(8000)
    assert not mark.drained(1001)  # not yet an eighth of the peak
    assert mark.drained(900)
    assert not mark.drained(0)  # once per burst
    mark.note(4000)
    assert mark.drained(100)
