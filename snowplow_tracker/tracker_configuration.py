"""``TrackerConfiguration``: the tracker options of ``Snowplow.create_tracker`` (1.x API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import arguments as _args
from .protocol.constants import DEFAULT_ENCODE_BASE64
from .protocol.payload import JsonEncoder


@dataclass
class TrackerConfiguration:
    """Options of the tracker that :meth:`Snowplow.create_tracker` builds.

    Attributes:
        encode_base64: Send self-describing events and contexts as base64 (default True).
        json_encoder: Called by the JSON serialiser for objects it cannot serialise, or None.

    Raises:
        ConfigurationError: An argument is invalid.
    """

    encode_base64: bool = DEFAULT_ENCODE_BASE64
    json_encoder: Optional[JsonEncoder] = None

    def __post_init__(self) -> None:
        _args.boolean("TrackerConfiguration", "encode_base64", self.encode_base64)
        _args.optional_callable("TrackerConfiguration", "json_encoder", self.json_encoder)
