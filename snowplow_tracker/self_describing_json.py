"""Kept import path: the module is :mod:`snowplow_tracker.protocol.self_describing_json`."""

from .protocol.self_describing_json import *  # noqa: F403
