"""The event kinds, described once as data: one :class:`Kind` per ``track_*`` method.

Tests and documentation iterate over :data:`KINDS`; the ``track_*`` methods
(:mod:`snowplow_tracker.events.track_methods`) and the 1.x event classes' code
(:mod:`snowplow_tracker.events.builders`) are generated from it by
``python -m tools.generate_tracker``.
"""

from __future__ import annotations

from typing import Dict, Tuple

from ..protocol.constants import (
    ADD_TO_CART_SCHEMA,
    CHANGE_FORM_SCHEMA,
    LINK_CLICK_SCHEMA,
    MOBILE_SCREEN_VIEW_SCHEMA,
    REMOVE_FROM_CART_SCHEMA,
    SCREEN_VIEW_SCHEMA,
    SITE_SEARCH_SCHEMA,
    SUBMIT_FORM_SCHEMA,
)
from .description import (
    COUNT,
    DATA,
    DATA_ALWAYS,
    DATA_IF_TRUTHY,
    DATA_LOWER,
    DATA_OR_NEW_ID,
    FORM_CLASSES,
    FORM_ELEMENT_ID,
    FORM_ELEMENTS,
    FORM_ID,
    FORM_NODE_NAME,
    FORM_TYPE_ANY_CASE,
    FORM_VALUE,
    INT32,
    ITEMS,
    NON_EMPTY_STRING,
    NON_EMPTY_STRINGS,
    NUMBER,
    SEARCH_FILTERS,
    SELF_DESCRIBING_JSON,
    STR,
    STRING,
    STRINGS,
    TRANSACTION_ITEMS,
    UUID,
    Field,
    Kind,
)

_PAGE = (
    Field("page_url", "url", NON_EMPTY_STRING, optional=False),
    Field("page_title", "page", STRING),
    Field("referrer", "refr", STRING),
)

PAGE_VIEW = Kind("page_view", "pv", _PAGE)
_PAGE_PING = (
    *_PAGE,
    Field("min_x", "pp_mix", INT32),
    Field("max_x", "pp_max", INT32),
    Field("min_y", "pp_miy", INT32),
    Field("max_y", "pp_may", INT32),
)
PAGE_PING = Kind("page_ping", "pp", _PAGE_PING)
_STRUCT_EVENT = (
    Field("category", "se_ca", NON_EMPTY_STRING, optional=False),
    Field("action", "se_ac", NON_EMPTY_STRING, optional=False),
    Field("label", "se_la", STRING),
    Field("property_", "se_pr", STRING),
    Field("value", "se_va", NUMBER, encoding=STR),
)
STRUCT_EVENT = Kind("struct_event", "se", _STRUCT_EVENT)
SELF_DESCRIBING_EVENT = Kind(
    "self_describing_event",
    "ue",
    (Field("event_json", "", SELF_DESCRIBING_JSON, optional=False, encoding=DATA),),
    event_arg="event_json",
)
UNSTRUCT_EVENT = Kind("unstruct_event", "ue", SELF_DESCRIBING_EVENT.fields, event_arg="event_json")
LINK_CLICK = Kind(
    "link_click",
    "ue",
    (
        Field("target_url", "targetUrl", NON_EMPTY_STRING, optional=False, encoding=DATA),
        Field("element_id", "elementId", STRING, encoding=DATA),
        Field("element_classes", "elementClasses", STRINGS, encoding=DATA),
        Field("element_target", "elementTarget", STRING, encoding=DATA),
        Field("element_content", "elementContent", STRING, encoding=DATA),
    ),
    schema=LINK_CLICK_SCHEMA,
)
_CART = (
    Field("sku", "sku", NON_EMPTY_STRING, optional=False, encoding=DATA),
    Field("quantity", "quantity", NUMBER, optional=False, encoding=DATA),
    Field("name", "name", STRING, encoding=DATA),
    Field("category", "category", STRING, encoding=DATA),
    Field("unit_price", "unitPrice", NUMBER, encoding=DATA),
    Field("currency", "currency", STRING, encoding=DATA),
)
ADD_TO_CART = Kind("add_to_cart", "ue", _CART, schema=ADD_TO_CART_SCHEMA)
REMOVE_FROM_CART = Kind("remove_from_cart", "ue", _CART, schema=REMOVE_FROM_CART_SCHEMA)
_FORM_CHANGE = (
    Field("form_id", "formId", FORM_ID, optional=False, encoding=DATA),
    Field("element_id", "elementId", FORM_ELEMENT_ID, optional=False, encoding=DATA),
    Field("node_name", "nodeName", FORM_NODE_NAME, optional=False, encoding=DATA),
    Field("value", "value", FORM_VALUE, encoding=DATA_ALWAYS),
    Field("type_", "type", FORM_TYPE_ANY_CASE, encoding=DATA_LOWER),
    Field("element_classes", "elementClasses", FORM_CLASSES, encoding=DATA),
)
FORM_CHANGE = Kind("form_change", "ue", _FORM_CHANGE, schema=CHANGE_FORM_SCHEMA)
_FORM_SUBMIT = (
    Field("form_id", "formId", FORM_ID, optional=False, encoding=DATA),
    Field("form_classes", "formClasses", FORM_CLASSES, encoding=DATA),
    Field("elements", "elements", FORM_ELEMENTS, encoding=DATA_IF_TRUTHY),
)
FORM_SUBMIT = Kind("form_submit", "ue", _FORM_SUBMIT, schema=SUBMIT_FORM_SCHEMA)
_SITE_SEARCH = (
    Field("terms", "terms", NON_EMPTY_STRINGS, optional=False, encoding=DATA),
    Field("filters", "filters", SEARCH_FILTERS, encoding=DATA),
    Field("total_results", "totalResults", COUNT, encoding=DATA),
    Field("page_results", "pageResults", COUNT, encoding=DATA),
)
SITE_SEARCH = Kind("site_search", "ue", _SITE_SEARCH, schema=SITE_SEARCH_SCHEMA)
SCREEN_VIEW = Kind(
    "screen_view",
    "ue",
    (
        Field("name", "name", NON_EMPTY_STRING, encoding=DATA),
        Field("id_", "id", STRING, encoding=DATA),
    ),
    schema=SCREEN_VIEW_SCHEMA,
    require_one_of=("name", "id_"),
)
_MOBILE_SCREEN_VIEW = (
    Field("name", "name", NON_EMPTY_STRING, optional=False, encoding=DATA),
    Field("id_", "id", UUID, encoding=DATA_OR_NEW_ID),
    Field("type", "type", STRING, encoding=DATA),
    Field("previous_name", "previousName", STRING, encoding=DATA),
    Field("previous_id", "previousId", UUID, encoding=DATA),
    Field("previous_type", "previousType", STRING, encoding=DATA),
    Field("transition_type", "transitionType", STRING, encoding=DATA),
)
MOBILE_SCREEN_VIEW = Kind(
    "mobile_screen_view",
    "ue",
    _MOBILE_SCREEN_VIEW,
    schema=MOBILE_SCREEN_VIEW_SCHEMA,
    data_order=(
        "id_",
        "name",
        "type",
        "previous_name",
        "previous_id",
        "previous_type",
        "transition_type",
    ),
)
_ITEM = (
    Field("sku", "ti_sk", NON_EMPTY_STRING, optional=False),
    Field("price", "ti_pr", NUMBER, optional=False),
    Field("quantity", "ti_qu", INT32, optional=False),
    Field("name", "ti_nm", STRING),
    Field("category", "ti_ca", STRING),
)
_ECOMMERCE_TRANSACTION_ITEM = (
    Field("order_id", "ti_id", NON_EMPTY_STRING, optional=False),
    *_ITEM,
    Field("currency", "ti_cu", STRING),
)
ECOMMERCE_TRANSACTION_ITEM = Kind(
    "ecommerce_transaction_item",
    "ti",
    _ECOMMERCE_TRANSACTION_ITEM,
    data_order=("order_id", "sku", "name", "category", "price", "quantity", "currency"),
)
_ECOMMERCE_TRANSACTION = (
    Field("order_id", "tr_id", NON_EMPTY_STRING, optional=False),
    Field("total_value", "tr_tt", NUMBER, optional=False),
    Field("affiliation", "tr_af", STRING),
    Field("tax_value", "tr_tx", NUMBER),
    Field("shipping", "tr_sh", NUMBER),
    Field("city", "tr_ci", STRING),
    Field("state", "tr_st", STRING),
    Field("country", "tr_co", STRING),
    Field("currency", "tr_cu", STRING),
    Field("items", "", TRANSACTION_ITEMS, encoding=ITEMS),
)
ECOMMERCE_TRANSACTION = Kind("ecommerce_transaction", "tr", _ECOMMERCE_TRANSACTION, items=True)

#: The bare 1.x ``Event``: only the fields the caller gives, plus contexts, ``ttm`` and the subject.
BARE_EVENT = Kind("event", "", ())

#: Every event kind, in the order of the documentation.
KINDS: Tuple[Kind, ...] = (
    PAGE_VIEW,
    PAGE_PING,
    STRUCT_EVENT,
    SELF_DESCRIBING_EVENT,
    UNSTRUCT_EVENT,
    LINK_CLICK,
    ADD_TO_CART,
    REMOVE_FROM_CART,
    FORM_CHANGE,
    FORM_SUBMIT,
    SITE_SEARCH,
    SCREEN_VIEW,
    MOBILE_SCREEN_VIEW,
    ECOMMERCE_TRANSACTION_ITEM,
    ECOMMERCE_TRANSACTION,
)
#: The kinds by name (``"struct_event"``...).
BY_NAME: Dict[str, Kind] = {k.name: k for k in KINDS}
