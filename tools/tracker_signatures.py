"""The arguments and docstrings of the Tracker's ``track_*`` methods.

:mod:`tools.generate_tracker` writes ``snowplow_tracker/events/track_methods.py``: each function
below as a method (``self`` first, returning the tracker), with the body generated from its event
description in ``snowplow_tracker/events/table.py``, and the 1.x event classes with the same
arguments. Edit the signatures and docstrings here, then regenerate
(``python -m tools.generate_tracker``). A function's parameters are its kind's arguments; the
generator adds ``context``, ``tstamp`` and ``event_subject`` and their docstring lines (but where
a docstring says otherwise).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

from snowplow_tracker.protocol.self_describing_json import SelfDescribingJson

# ------------------------------------------------------------------ page events


def track_page_view(
    page_url: str, page_title: Optional[str] = None, referrer: Optional[str] = None
):
    """Track a page view (``e=pv``).

    Args:
        page_url: The page URL (``url``), a non-empty string.
        page_title: The page title (``page``).
        referrer: The referrer URL (``refr``).
    """


def track_page_ping(
    page_url: str,
    page_title: Optional[str] = None,
    referrer: Optional[str] = None,
    min_x: Optional[int] = None,
    max_x: Optional[int] = None,
    min_y: Optional[int] = None,
    max_y: Optional[int] = None,
):
    """Track a page ping (``e=pp``): the user is still on the page, with scroll offsets.

    Offsets of 0 are sent (``pp_mix=0``), as tracker 1.1.0 does.

    Args:
        page_url: The page URL (``url``), a non-empty string.
        page_title: The page title (``page``).
        referrer: The referrer URL (``refr``).
        min_x: Minimum horizontal scroll offset in the ping period (``pp_mix``), an int.
        max_x: Maximum horizontal scroll offset (``pp_max``), an int.
        min_y: Minimum vertical scroll offset (``pp_miy``), an int.
        max_y: Maximum vertical scroll offset (``pp_may``), an int.
    """


# ------------------------------------------------------------------ structured event


def track_struct_event(
    category: str,
    action: str,
    label: Optional[str] = None,
    property_: Optional[str] = None,
    value: Optional[float] = None,
):
    """Track a structured event (``e=se``), Google Analytics style.

    Args:
        category: The group of events the action belongs to (``se_ca``), non-empty.
        action: The kind of interaction (``se_ac``), a non-empty string.
        label: Extra information about the event (``se_la``).
        property_: The object or property acted upon (``se_pr``).
        value: A number (``se_va``), an int or a finite float; sent as ``str(value)``.
    """


# ------------------------------------------------------------------ self-describing events


def track_self_describing_event(event_json: SelfDescribingJson):
    """Track a self-describing event (``e=ue``) with any schema.

    The event is wrapped in the ``unstruct_event`` 1-0-0 envelope and sent as ``ue_px``
    (base64) or ``ue_pr``.

    Args:
        event_json: The event, a SelfDescribingJson (schema URI and data).
    """


def track_unstruct_event(event_json: SelfDescribingJson):
    """Track a self-describing event (alias of :meth:`track_self_describing_event`).

    Same behaviour; error messages name ``Tracker.track_unstruct_event``.

    Args:
        event_json: The event, a SelfDescribingJson (schema URI and data).
    """


def track_link_click(
    target_url: str,
    element_id: Optional[str] = None,
    element_classes: Optional[Sequence[str]] = None,
    element_target: Optional[str] = None,
    element_content: Optional[str] = None,
):
    """Track a link click (self-describing ``link_click`` 1-0-1).

    Args:
        target_url: The link's URL (``targetUrl``), a non-empty string.
        element_id: The link element's id attribute.
        element_classes: The link element's classes, a list of strings.
        element_target: The link element's target attribute.
        element_content: The link element's content (text).
    """


def track_add_to_cart(
    sku: str,
    quantity: float,
    name: Optional[str] = None,
    category: Optional[str] = None,
    unit_price: Optional[float] = None,
    currency: Optional[str] = None,
):
    """Track items added to a cart (self-describing ``add_to_cart`` 1-0-0).

    Args:
        sku: The item's SKU, a non-empty string.
        quantity: How many were added, a number.
        name: The item's name.
        category: The item's category.
        unit_price: The item's unit price, a number.
        currency: The currency of the price, e.g. ``"EUR"``.
    """


def track_remove_from_cart(
    sku: str,
    quantity: float,
    name: Optional[str] = None,
    category: Optional[str] = None,
    unit_price: Optional[float] = None,
    currency: Optional[str] = None,
):
    """Track items removed from a cart (self-describing ``remove_from_cart`` 1-0-0).

    Args:
        sku: The item's SKU, a non-empty string.
        quantity: How many were removed, a number.
        name: The item's name.
        category: The item's category.
        unit_price: The item's unit price, a number.
        currency: The currency of the price, e.g. ``"EUR"``.
    """


def track_form_change(
    form_id: str,
    element_id: str,
    node_name: str,
    value: Optional[str],
    type_: Optional[str] = None,
    element_classes: Optional[Sequence[str]] = None,
):
    """Track a change to a form field (self-describing ``change_form`` 1-0-0).

    ``type_`` is accepted in any letter case and sent in lower case (the schema's enum is
    lower case; tracker 1.1.0 accepted ``"TEXT"`` but sent it unchanged, which fails the
    schema).

    Args:
        form_id: The form's id attribute, a non-empty string of at most 4096 characters.
        element_id: The field's id attribute, a string (required by the schema) of at most
            4096 characters.
        node_name: The field's node name: ``"INPUT"``, ``"SELECT"`` or ``"TEXTAREA"``.
        value: The field's new value, a string of at most 65535 characters, or None.
        type_: The input type, e.g. ``"text"`` or ``"checkbox"`` (see
            :data:`~snowplow_tracker.protocol.constants.FORM_TYPES`).
        element_classes: The field's classes, a list of strings of at most 4096 characters.
    """


def track_form_submit(
    form_id: str,
    form_classes: Optional[Sequence[str]] = None,
    elements: Optional[Sequence[Mapping[str, Any]]] = None,
):
    """Track a form submission (self-describing ``submit_form`` 1-0-0).

    Args:
        form_id: The form's id attribute, a non-empty string of at most 4096 characters.
        form_classes: The form's classes, a list of strings of at most 4096 characters.
        elements: The form's fields, each a dict with ``name`` (string), ``value`` (string
            or None; both at most 65535 characters), ``nodeName`` (``"INPUT"``,
            ``"SELECT"`` or ``"TEXTAREA"``) and optionally ``type`` (an input type; leave
            the key out rather than give None, which the schema refuses); an empty list is
            not sent.
    """


def track_site_search(
    terms: Sequence[str],
    filters: Optional[Mapping[str, Union[str, bool]]] = None,
    total_results: Optional[int] = None,
    page_results: Optional[int] = None,
):
    """Track a search on the site (self-describing ``site_search`` 1-0-0).

    Args:
        terms: The search terms, a non-empty list of strings.
        filters: Filters applied, a dict of strings to strings or booleans.
        total_results: Number of results, an integer from 0 to 2147483647.
        page_results: Number of results on the first page, same range.
    """


def track_screen_view(name: Optional[str] = None, id_: Optional[str] = None):
    """Track a screen view (self-describing ``com.snowplowanalytics.snowplow/screen_view``).

    At least one of ``name`` and ``id_`` is required. For the mobile screen view schema use
    :meth:`track_mobile_screen_view`.

    Args:
        name: Human-readable name of the screen, a non-empty string.
        id_: Identifier of the screen, a string.
    """


def track_mobile_screen_view(
    name: str,
    id_: Optional[str] = None,
    type: Optional[str] = None,
    previous_name: Optional[str] = None,
    previous_id: Optional[str] = None,
    previous_type: Optional[str] = None,
    transition_type: Optional[str] = None,
):
    """Track a mobile screen view (self-describing ``mobile/screen_view`` 1-0-0).

    Args:
        name: The screen's name, a non-empty string.
        id_: The screen view's id, a UUID string; a new random UUID when None.
        type: The kind of screen, e.g. ``"feed"`` or ``"carousel"``.
        previous_name: The previous screen's name.
        previous_id: The previous screen view's id, a UUID string.
        previous_type: The previous screen's type.
        transition_type: How the user got to the screen, e.g. ``"push"``.
    """


# ------------------------------------------------------------------ ecommerce


def track_ecommerce_transaction_item(
    order_id: str,
    sku: str,
    price: float,
    quantity: int,
    name: Optional[str] = None,
    category: Optional[str] = None,
    currency: Optional[str] = None,
):
    """Track one line of an ecommerce transaction (``e=ti``).

    :meth:`track_ecommerce_transaction` sends these for its ``items``; use this method for
    an item tracked on its own.

    Args:
        order_id: The transaction's order id (``ti_id``), a non-empty string.
        sku: The item's SKU (``ti_sk``), a non-empty string.
        price: The item's price (``ti_pr``), a number.
        quantity: How many were bought (``ti_qu``), an integer.
        name: The item's name (``ti_nm``).
        category: The item's category (``ti_ca``).
        currency: The currency of the price (``ti_cu``).
    """


def track_ecommerce_transaction(
    order_id: str,
    total_value: float,
    affiliation: Optional[str] = None,
    tax_value: Optional[float] = None,
    shipping: Optional[float] = None,
    city: Optional[str] = None,
    state: Optional[str] = None,
    country: Optional[str] = None,
    currency: Optional[str] = None,
    items: Optional[Sequence[Mapping[str, Any]]] = None,
):
    """Track an ecommerce transaction (``e=tr``) and one ``e=ti`` event per item.

    Every event shares the order id, the transaction's currency, the device time ``dtm``
    and, when given, ``tstamp`` (``ttm``); unlike tracker 1.1.0, items get no ``ttm`` when
    ``tstamp`` is None. Every item is validated before any event is emitted, and the
    caller's item dicts are never modified. Each item event carries the transaction's
    ``context`` followed by the item's own ``"context"`` entities, if any.

    Args:
        order_id: The order id (``tr_id``), a non-empty string.
        total_value: The total value (``tr_tt``), a number.
        affiliation: The affiliation (``tr_af``).
        tax_value: The tax (``tr_tx``), a number.
        shipping: The delivery cost (``tr_sh``), a number.
        city: The delivery city (``tr_ci``).
        state: The delivery state (``tr_st``).
        country: The delivery country (``tr_co``).
        currency: The currency (``tr_cu``, and ``ti_cu`` of every item).
        items: The items, dicts with ``"sku"`` (non-empty string), ``"price"`` (number),
            ``"quantity"`` (integer) and optionally ``"name"``, ``"category"`` and
            ``"context"``. The keys ``"order_id"``, ``"currency"``, ``"tstamp"`` and
            ``"event_subject"`` are ignored: the transaction's values are used.
        event_subject: A Subject merged over the tracker's subject for these events.
    """
