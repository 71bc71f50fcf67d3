"""Type aliases of snowplow-tracker 1.x's ``snowplow_tracker.typing``, for code that imports them.

The values match this library's (``FORM_TYPES``, ``FORM_NODE_NAMES`` and ``SUPPORTED_PLATFORMS``
come from :mod:`snowplow_tracker.protocol.constants`, which also accepts the ``headset`` platform).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Literal, Protocol, Tuple, Union

from .protocol.constants import FORM_NODE_NAMES, FORM_TYPES
from .protocol.constants import SUPPORTED_PLATFORMS as _PLATFORMS

#: An event's fields (this library's emitters receive ``str`` values only).
PayloadDict = Dict[str, Any]
PayloadDictList = List[PayloadDict]
#: A custom JSON encoder: called with an object the serialiser cannot handle.
JsonEncoderFunction = Callable[[Any], Any]

FormNodeName = Literal["INPUT", "TEXTAREA", "SELECT"]
ElementClasses = Union[List[str], Tuple[str, Any]]
FormClasses = Union[List[str], Tuple[str, Any]]

HttpProtocol = Literal["http", "https"]
Method = Literal["get", "post"]
SuccessCallback = Callable[[PayloadDictList], None]
FailureCallback = Callable[[int, PayloadDictList], None]

SUPPORTED_PLATFORMS = frozenset(_PLATFORMS)
SupportedPlatform = Literal["pc", "tv", "mob", "cnsl", "iot", "web", "srv", "app", "headset"]


class EmitterProtocol(Protocol):
    """What tracker 1.x expects of an emitter (this library's Tracker needs only ``input``)."""

    def input(self, payload: PayloadDict) -> None:
        """Accept one event.

        Args:
            payload: The event's fields.
        """

    def flush(self) -> None:
        """Send what is buffered."""


__all__ = [
    "FORM_NODE_NAMES",
    "FORM_TYPES",
    "SUPPORTED_PLATFORMS",
    "ElementClasses",
    "EmitterProtocol",
    "FailureCallback",
    "FormClasses",
    "FormNodeName",
    "HttpProtocol",
    "JsonEncoderFunction",
    "Method",
    "PayloadDict",
    "PayloadDictList",
    "SuccessCallback",
    "SupportedPlatform",
]
