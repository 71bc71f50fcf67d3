"""Event payloads for emitter tests: what a Tracker hands to ``input``, without needing one."""

from __future__ import annotations

from typing import Dict, List
from uuid import uuid4


def make_payload(**extra: str) -> Dict[str, str]:
    """A structured event with a fresh ``eid``, plus the fields given."""
    payload = {
        "e": "se",
        "se_ca": "c",
        "se_ac": "a",
        "eid": str(uuid4()),
        "tv": "py-test",
        "p": "srv",
    }
    payload.update(extra)
    return payload


def numbered_page_view(i: int, tag: str = "t") -> Dict[str, str]:
    """Page view number ``i``: its ``eid`` is ``f"{tag}-{i:06d}"``, so tests can list them."""
    return {
        "e": "pv",
        "eid": f"{tag}-{i:06d}",
        "url": f"https://shop.example.com/item/{i}",
        "page": "Item page",
        "aid": "shop",
        "p": "srv",
        "tv": "py-test",
        "dtm": "1700000000000",
    }


def without_stm(events: List[Dict[str, str]]) -> List[Dict[str, str]]:
    """The events as tracked: the collector sees ``stm``, added at send time."""
    return [{k: v for k, v in e.items() if k != "stm"} for e in events]
