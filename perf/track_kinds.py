"""``python -m perf.track_kinds``: the caller's cost of every ``track_*`` kind, no I/O.

Each kind of :data:`snowplow_tracker.events.table.KINDS` is tracked with typical arguments, a
subject and one context, into a no-op emitter; the table gives the best of ``--repeats`` runs of
``--number`` calls, in microseconds of process CPU per call. On shared machines take it as a
rough guide: compare runs made one after the other.

Examples::

    python -m perf.track_kinds
    python -m perf.track_kinds --number 20000 --repeats 9 --json /tmp/kinds.json
"""

from __future__ import annotations

import argparse
import functools
import json
import time
import timeit
from typing import Any, Callable, Dict, List, Optional

from snowplow_tracker import SelfDescribingJson, Subject, Tracker
from snowplow_tracker.events.table import KINDS

CTX = [SelfDescribingJson("iglu:com.acme/ctx/jsonschema/1-0-0", {"a": 1})]
EVENT = SelfDescribingJson("iglu:com.acme/ev/jsonschema/1-0-0", {"b": 2})
UUID = "9c65e7f3-8e8e-4d2b-a7d6-6d1c3b2b8f1e"

#: Typical arguments of every kind (the context is added to each).
ARGUMENTS: Dict[str, Dict[str, Any]] = {
    "page_view": {"page_url": "http://x.com/a", "page_title": "Title", "referrer": "http://r/"},
    "page_ping": {"page_url": "http://x.com/a", "min_x": 0, "max_x": 10, "min_y": 0, "max_y": 5},
    "struct_event": {"category": "shop", "action": "add", "label": "sku-1", "value": 2},
    "self_describing_event": {"event_json": EVENT},
    "unstruct_event": {"event_json": EVENT},
    "link_click": {"target_url": "http://x.com", "element_id": "id1", "element_classes": ["a"]},
    "add_to_cart": {"sku": "sku", "quantity": 2, "unit_price": 9.5, "currency": "EUR"},
    "remove_from_cart": {"sku": "sku", "quantity": 2, "unit_price": 9.5, "currency": "EUR"},
    "form_change": {"form_id": "f", "element_id": "e", "node_name": "INPUT", "value": "v"},
    "form_submit": {
        "form_id": "f",
        "elements": [{"name": "n", "value": "v", "nodeName": "INPUT"}],
    },
    "site_search": {"terms": ["a", "b"], "total_results": 10},
    "screen_view": {"name": "home", "id_": "id1"},
    "mobile_screen_view": {"name": "home", "id_": UUID, "type": "feed"},
    "ecommerce_transaction_item": {"order_id": "o1", "sku": "s", "price": 9.5, "quantity": 2},
    "ecommerce_transaction": {"order_id": "o1", "total_value": 19.0, "currency": "EUR"},
}


class Noop:
    """An emitter that drops every event."""

    def input(self, payload: Dict[str, str]) -> None:
        """Drop the event.

        Args:
            payload: The event.
        """


def measure(number: int, repeats: int) -> Dict[str, float]:
    """Return microseconds of process CPU per call, by kind (best of ``repeats``).

    Args:
        number: Calls per run.
        repeats: Runs per kind.
    """
    tracker = Tracker(Noop(), subject=Subject().set_user_id("u1"), namespace="ns", app_id="app")
    out: Dict[str, float] = {}
    for kind in KINDS:
        method = getattr(tracker, f"track_{kind.name}")
        kwargs = dict(ARGUMENTS[kind.name], context=CTX)
        call: Callable[[], Any] = functools.partial(method, **kwargs)
        call()
        best = min(timeit.repeat(call, number=number, repeat=repeats, timer=time.process_time))
        out[kind.name] = best / number * 1e6
    return out


def main(argv: Optional[List[str]] = None) -> None:
    """Print the table (and write JSON with ``--json``).

    Args:
        argv: Command line arguments (``sys.argv[1:]`` when None).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--number", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    results = measure(args.number, args.repeats)
    print("| kind | µs per call |\n|---|---:|")
    for name, micros in results.items():
        print(f"| {name} | {micros:.2f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
