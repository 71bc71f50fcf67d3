"""Protocol constants: Iglu schema URIs, platforms, form node names and types.

The schema URIs are the ones the published python tracker 1.1.0 sends (contexts ``1-0-1``,
``unstruct_event`` ``1-0-0`` and the event schemas of its ``track_*`` helpers); see
``TRACKER_PROTOCOL.md`` in the protocol reference.
"""

from __future__ import annotations

from typing import FrozenSet, Tuple

from .._version import TRACKER_VERSION

#: The ``tv`` value every event carries, ``py-<version>`` (tracker 1.x's ``constants.VERSION``).
VERSION = TRACKER_VERSION

BASE_SCHEMA_PATH = "iglu:com.snowplowanalytics.snowplow"
MOBILE_SCHEMA_PATH = "iglu:com.snowplowanalytics.mobile"
SCHEMA_TAG = "jsonschema"


def _schema(name: str, version: str = "1-0-0", path: str = BASE_SCHEMA_PATH) -> str:
    """The Iglu URI of the JSON Schema ``path/name/jsonschema/version``."""
    return f"{path}/{name}/{SCHEMA_TAG}/{version}"


#: Envelope of the context entities sent as ``cx``/``co`` (1-0-1 allows what 1-0-0 allows).
CONTEXT_SCHEMA = _schema("contexts", "1-0-1")
#: Envelope of a self-describing event sent as ``ue_px``/``ue_pr``.
UNSTRUCT_EVENT_SCHEMA = _schema("unstruct_event")
#: ``track_screen_view`` (the legacy web/desktop screen view).
SCREEN_VIEW_SCHEMA = _schema("screen_view")
#: ``track_mobile_screen_view`` (``id`` must be a UUID).
MOBILE_SCREEN_VIEW_SCHEMA = _schema("screen_view", path=MOBILE_SCHEMA_PATH)
LINK_CLICK_SCHEMA = _schema("link_click", "1-0-1")
ADD_TO_CART_SCHEMA = _schema("add_to_cart")
REMOVE_FROM_CART_SCHEMA = _schema("remove_from_cart")
CHANGE_FORM_SCHEMA = _schema("change_form")
SUBMIT_FORM_SCHEMA = _schema("submit_form")
SITE_SEARCH_SCHEMA = _schema("site_search")

#: Whether ``ue_px``/``cx`` (base64) rather than ``ue_pr``/``co`` (plain JSON) are sent by default.
DEFAULT_ENCODE_BASE64 = True

#: Platform of a fresh :class:`~snowplow_tracker.subject.Subject`.
DEFAULT_PLATFORM = "pc"
#: The platform codes Snowplow Enrich accepts for ``p``, in the documented order.
SUPPORTED_PLATFORMS: Tuple[str, ...] = (
    "web",
    "mob",
    "pc",
    "srv",
    "app",
    "tv",
    "cnsl",
    "iot",
    "headset",
)

#: Node names allowed in ``change_form`` and ``submit_form`` (as in tracker 1.1.0 and the schemas).
FORM_NODE_NAMES: FrozenSet[str] = frozenset({"INPUT", "TEXTAREA", "SELECT"})
#: Input types allowed in ``change_form`` and ``submit_form`` (as in tracker 1.1.0 and the schemas).
FORM_TYPES: FrozenSet[str] = frozenset(
    {
        "button",
        "checkbox",
        "color",
        "date",
        "datetime",
        "datetime-local",
        "email",
        "file",
        "hidden",
        "image",
        "month",
        "number",
        "password",
        "radio",
        "range",
        "reset",
        "search",
        "submit",
        "tel",
        "text",
        "time",
        "url",
        "week",
    }
)

#: Most characters of a form's or a form field's id, and of each of their classes
#: (``maxLength`` of ``formId``, ``elementId``, ``formClasses`` and ``elementClasses`` in
#: ``change_form`` and ``submit_form`` 1-0-0).
MAX_FORM_ID = 4096
#: Most characters of a form field's value, and of a submitted field's name (``maxLength`` of
#: ``value`` and ``elements[].name`` in ``change_form`` and ``submit_form`` 1-0-0).
MAX_FORM_VALUE = 65535

#: Largest value of a 32-bit signed integer field (``vid``, ``ti_qu``, ``pp_*``, ``res``...).
MAX_INT32 = 2**31 - 1
#: Largest timestamp Snowplow Enrich accepts: 9999-12-31T23:59:59.999Z in milliseconds.
MAX_TIMESTAMP_MS = 253402300799999
