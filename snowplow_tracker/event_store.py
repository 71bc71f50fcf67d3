"""Kept import path (tracker 1.x): the module is :mod:`snowplow_tracker.delivery.event_store`."""

from .delivery.event_store import *  # noqa: F403
