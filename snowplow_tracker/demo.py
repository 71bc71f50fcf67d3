"""Demo: track one event of every kind and print what the collector received.

Run ``python -m snowplow_tracker.demo``: it starts the embedded local collector on loopback,
tracks one event of every kind through a ``Tracker`` (POST, then the same by GET), and prints
each event as the collector decoded it. With ``--endpoint HOST`` it sends to that collector
instead (nothing is printed back then, since a real collector does not echo).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any, Dict, List, Optional

from .emitters import Emitter
from .protocol.self_describing_json import SelfDescribingJson
from .subject import Subject
from .testing import Collector
from .tracker import Tracker


def track_everything(tracker: Tracker) -> None:
    """Track one event of every kind the tracker knows."""
    ctx = [SelfDescribingJson("iglu:com.acme/demo_ctx/jsonschema/1-0-0", {"café": "✓", "n": 1})]
    tracker.track_page_view("https://shop.example/a?b=1&c=d e", "Café ✓", "https://ref.example/")
    tracker.track_page_ping("https://shop.example/", "Home", None, 0, 100, 0, 500)
    tracker.track_link_click("https://shop.example/x", "link-1", ["a", "b"], "_blank", "Go")
    tracker.track_add_to_cart("sku-1", 2, "Widget", "tools", 4.75, "EUR", context=ctx)
    tracker.track_remove_from_cart("sku-1", 1, "Widget", "tools", 4.75, "EUR")
    tracker.track_form_change("form-1", "email", "INPUT", "a@b.c", "email")
    tracker.track_form_submit(
        "form-1", ["c1"], [{"name": "email", "value": "a@b.c", "nodeName": "INPUT"}]
    )
    tracker.track_site_search(["shoes", "red"], {"size": "42"}, 10, 5)
    tracker.track_ecommerce_transaction(
        "order-1",
        12.5,
        "store",
        1.25,
        3,
        "Paris",
        "IDF",
        "FR",
        "EUR",
        items=[{"sku": "sku-1", "price": 4.75, "quantity": 2, "name": "Widget"}],
    )
    tracker.track_ecommerce_transaction_item("order-2", "sku-2", 9.99, 1, "Gadget", "tools", "EUR")
    tracker.track_screen_view("HUD > Save Game", "screen23")
    tracker.track_mobile_screen_view("Checkout")
    tracker.track_struct_event("shop", "add-to-basket", "sku-1", "pcs", 2.5, context=ctx)
    tracker.track_self_describing_event(
        SelfDescribingJson(
            "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
            {"targetUrl": "https://shop.example/y"},
        )
    )


def readable(event: Dict[str, str]) -> Dict[str, Any]:
    """The event with its base64 JSON fields (``ue_px``, ``cx``) decoded, for printing."""
    out: Dict[str, Any] = dict(event)
    for name in ("ue_px", "cx"):
        if name in out:
            out[name] = json.loads(base64.urlsafe_b64decode(out[name]))
    return out


def main(argv: Optional[List[str]] = None) -> int:
    """Run the demo; see the module docstring.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(prog="python -m snowplow_tracker.demo", description=__doc__)
    parser.add_argument("--endpoint", help="send to this collector instead of a local one")
    parser.add_argument("--method", choices=["post", "get", "both"], default="both")
    args = parser.parse_args(argv)
    methods = ["post", "get"] if args.method == "both" else [args.method]
    subject = Subject().set_user_id("user-42").set_platform("srv").set_lang("fr")
    if args.endpoint:
        for method in methods:
            emitter = Emitter(args.endpoint, method=method, buffer_size=50)
            track_everything(Tracker(emitter, subject=subject, namespace="demo", app_id="demo"))
            emitter.flush()
            print(f"{method.upper()}: {emitter.stats()}")
        return 0
    with Collector(mode="record") as collector:
        for method in methods:
            emitter = Emitter(collector.endpoint, method=method, buffer_size=50)
            track_everything(Tracker(emitter, subject=subject, namespace="demo", app_id="demo"))
            emitter.flush()
            emitter.close()
        for request in collector.requests:
            print(f"--- {request.method} {request.path} -> HTTP {request.status}")
        print(f"=== the collector received {len(collector.events)} events:")
        for event in collector.events:
            print(json.dumps(readable(event), ensure_ascii=False, sort_keys=True))
        return 0 if collector.bad_requests == 0 and collector.events else 1


if __name__ == "__main__":
    sys.exit(main())
