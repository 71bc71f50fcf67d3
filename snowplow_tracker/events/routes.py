"""How ``track_*`` calls go through ``track``/``track_self_describing_event`` when overridden.

In tracker 1.x every ``track_*`` method calls ``self.track(event=...)``, and the self-describing
ones call ``self.track_self_describing_event(event_json=..., context=..., tstamp=...,
event_subject=...)``. Code written for 1.x overrides these (a subclass adding a context to every
event) or patches them in its tests. The generated methods keep their fast path while the class
has the original methods, and take these routes when it does not: the routes to ``track`` of
an event object at once (the object checks its arguments), the others after the checks, with
the payload fields or the event data built (see ``tools/compiler.py``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Type

from ..protocol.self_describing_json import SelfDescribingJson
from . import table
from .description import Kind
from .event import Event
from .track_methods import PagePing, PageView, ScreenView, SelfDescribing, StructuredEvent

Route = Callable[..., Any]


def _via_track(cls: Type[Event]) -> Route:
    """Route: build the event object and hand it to ``tracker.track(event=...)``."""

    def route(tracker: Any, *args: Any) -> Any:
        *own, context, tstamp, event_subject = args
        values = dict(zip(cls._kind.args, own))
        tracker.track(
            event=cls(**values, event_subject=event_subject, context=context, true_timestamp=tstamp)
        )
        return tracker

    return route


def _via_self_describing(kind: Kind) -> Route:
    """Route: call ``track_self_describing_event`` with the event's (checked) data."""
    schema = kind.schema

    def route(tracker: Any, data: Any, *args: Any) -> Any:
        *_, context, tstamp, event_subject = args
        event = SelfDescribingJson(str(schema), data)
        tracker.track_self_describing_event(
            event_json=event, context=context, tstamp=tstamp, event_subject=event_subject
        )
        return tracker

    return route


def _item_via_track(tracker: Any, pairs: Any, *args: Any) -> Any:
    """Route: ``tracker.track(event=Event(dict_=<the checked ti fields>, ...))``."""
    *_, context, tstamp, event_subject = args
    event = Event(dict_=pairs, event_subject=event_subject, context=context, true_timestamp=tstamp)
    tracker.track(event=event)
    return tracker


def _transaction_via_track(tracker: Any, pairs: Any, *args: Any) -> Any:
    """Route: the ``tr`` event through ``track``, then ``track_ecommerce_transaction_item``
    for each item (tracker 1.x's calls)."""
    names = (*table.ECOMMERCE_TRANSACTION.args, "context", "tstamp", "event_subject")
    values = dict(zip(names, args))
    common = {k: values[k] for k in ("context", "tstamp", "event_subject")}
    _item_via_track(tracker, pairs, *common.values())
    for item in values["items"] or ():
        own = [*(values["context"] or ()), *(item.get("context") or ())]
        tracker.track_ecommerce_transaction_item(
            **{k: item.get(k) for k in ("sku", "price", "quantity", "name", "category")},
            order_id=values["order_id"],
            currency=values["currency"],
            **{**common, "context": own or None},
        )
    return tracker


#: The route of each kind (see the module docstring).
ROUTES: Dict[str, Route] = {
    "ecommerce_transaction_item": _item_via_track,
    "ecommerce_transaction": _transaction_via_track,
    "page_view": _via_track(PageView),
    "page_ping": _via_track(PagePing),
    "struct_event": _via_track(StructuredEvent),
    "self_describing_event": _via_track(SelfDescribing),
    "unstruct_event": _via_track(SelfDescribing),
    "mobile_screen_view": _via_track(ScreenView),
    **{
        k.name: _via_self_describing(k)
        for k in table.KINDS
        if k.self_describing and k.schema and k is not table.MOBILE_SCREEN_VIEW
    },
}
