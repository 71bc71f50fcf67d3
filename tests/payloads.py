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


def without_stm(events: List[Dict[str, str]]) -> List[Dict[str, str]]:
    """The events as tracked: the collector sees ``stm``, added at send time."""
    return [{k: v for k, v in e.items() if k != "stm"} for e in events]
