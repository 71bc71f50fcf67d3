"""The caller's cost of every ``track_*`` method (issue 11), this project only.

Imported by ``worker.py`` as a top-level module (see :mod:`harness`). :data:`KINDS` describes
one typical call per method, as data: the method, its positional arguments, and how many events
it emits. Each kind is called ``events`` times per repetition with the suite's subject and
context; the figure is CPU microseconds per call on the calling thread (``thread_time``). Run
with the ``ProcessEmitter`` variants, each timed against a second tracker in the same process
whose emitter's ``input`` does nothing (the Tracker alone); the report divides one by the
other ("emitter overhead"). The ``noop`` variant runs it with the no-op emitter only.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any, Callable, Dict, List, Tuple

from harness import CollectorClient, NoopEmitter, Target, deliver, delivered_since

SCHEMA = "iglu:com.acme/perf_event/jsonschema/1-0-0"
ITEM = {"sku": "sku-1", "price": 9.99, "quantity": 2, "name": "Widget", "category": "tools"}
FORM_ELEMENT = {"name": "email", "value": "a@example.com", "nodeName": "INPUT", "type": "email"}


def _kinds(
    sdj: Callable[[str, Dict[str, Any]], Any],
) -> List[Tuple[str, str, Tuple[Any, ...], int]]:
    """``(kind, method, positional arguments, events per call)`` for every ``track_*`` method."""
    url, ref = "https://shop.example.com/p/1", "https://www.example.com/"
    return [
        ("page_view", "track_page_view", (url, "Product", ref), 1),
        ("page_ping", "track_page_ping", (url, "Product", ref, 0, 120, 0, 800), 1),
        ("struct_event", "track_struct_event", ("perf", "track", "label", "prop", 1.5), 1),
        ("self_describing", "track_self_describing_event", (sdj(SCHEMA, {"n": 1}),), 1),
        ("unstruct_event", "track_unstruct_event", (sdj(SCHEMA, {"n": 1}),), 1),
        ("link_click", "track_link_click", (url, "buy", ["btn", "big"], "_self", "Buy"), 1),
        ("add_to_cart", "track_add_to_cart", ("sku-1", 2, "Widget", "tools", 9.99, "EUR"), 1),
        ("remove_from_cart", "track_remove_from_cart", ("sku-1", 1, "Widget", "tools"), 1),
        (
            "form_change",
            "track_form_change",
            ("signup", "email", "INPUT", "a@example.com", "email", ["wide"]),
            1,
        ),
        ("form_submit", "track_form_submit", ("signup", ["wide"], [FORM_ELEMENT]), 1),
        ("site_search", "track_site_search", (["red", "shoes"], {"size": "42"}, 120, 20), 1),
        ("screen_view", "track_screen_view", ("Home", "home-1"), 1),
        (
            "mobile_screen_view",
            "track_mobile_screen_view",
            ("Home", "5a2bd7e6-8e64-4f43-9b3a-5f3d9ea1a3a1"),
            1,
        ),
        (
            "transaction_item",
            "track_ecommerce_transaction_item",
            ("order-1", "sku-1", 9.99, 2, "Widget", "tools", "EUR"),
            1,
        ),
        (
            "transaction",
            "track_ecommerce_transaction",
            ("order-1", 19.98, "shop", 2.0, 4.5, "Paris", "IDF", "FR", "EUR", [ITEM, ITEM]),
            3,
        ),
    ]


def _cost(call: Callable[..., Any], args: Tuple[Any, ...], context: Any, n: int) -> float:
    """CPU µs per ``call(*args, context=context)`` on this thread, over ``n`` calls."""
    gc.collect()
    thread_time = time.thread_time
    cpu0 = thread_time()
    for _ in range(n):
        call(*args, context=context)
    return (thread_time() - cpu0) * 1e6 / n


def scenario_kinds(
    target: Target, client: CollectorClient, spec: Dict[str, Any]
) -> List[Dict[str, Any]]:
    """CPU µs per call of every kind, with the variant's emitter and with a no-op emitter.

    The two trackers are timed in the same process, kind by kind, alternating which goes
    first, so that their ratio (the emitter's overhead) is not skewed by the machine's load
    changing between steps. Per repetition: ``kinds`` and ``noop`` (``{kind: µs}``).
    """
    from snowplow_tracker.self_describing_json import SelfDescribingJson

    n = int(spec["events"])
    kinds = _kinds(SelfDescribingJson)
    context = target.context
    trackers = {"kinds": target.tracker}
    if target.delivers:
        trackers["noop"] = target.make_tracker(NoopEmitter())
    before = client.stats() if target.delivers else {}
    emitted = 0
    reps: List[Dict[str, Any]] = []
    for rep in range(int(spec["repeats"])):
        costs: Dict[str, Dict[str, float]] = {name: {} for name in trackers}
        for i, (kind, method, args, events) in enumerate(kinds):
            order = list(trackers.items())
            if (rep + i) % 2:
                order.reverse()
            for name, tracker in order:
                call = getattr(tracker, method)
                call(*args, context=context)  # first call outside the timing (caches)
                costs[name][kind] = _cost(call, args, context, n)
            emitted += events * (n + 1)
        reps.append({**costs, "lost": 0, "duplicates": 0})
    if target.delivers:
        after = deliver(target, client, before["events"] + emitted, 120.0)
        counts = delivered_since(before, after, emitted)
        reps[-1].update(lost=counts["lost"], duplicates=counts["duplicates"])
    for name in trackers:
        reps[-1][f"median_{name}"] = {
            kind: statistics.median(r[name][kind] for r in reps) for kind, _, _, _ in kinds
        }
    return reps


SCENARIOS = {"kinds": scenario_kinds}
