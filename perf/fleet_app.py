"""The WSGI app of the fleet scenario (:mod:`perf.fleet`): one structured event per request.

Served by gunicorn with ``--pythonpath perf`` and imported as the top-level module
``fleet_app``, under this project's ``snowplow_tracker`` and under the published
``snowplow-tracker==1.1.0`` (the anchor virtualenv, ``python -I``). It therefore imports only the
standard library and the tracker under test, and nothing that would weigh on the measured
memory. The tracker and its emitter are built at import, with the emitter's defaults, as an
application would: in each worker without ``--preload``, in the master with it.

Environment:
    FLEET_KIND: ``process`` (``ProcessEmitter``), ``async`` (``AsyncEmitter``) or ``noop`` (an
        emitter whose ``input`` does nothing: the app and the Tracker alone).
    FLEET_COLLECTOR: ``HOST:PORT`` of the collector.

Paths: ``/track`` tracks ``track_struct_event("perf", "track", "fleet", "prop", 1.5, [ctx])``
with a subject (user id, platform); ``/health`` answers without tracking.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable, Dict, Iterable, List, Tuple

from snowplow_tracker.self_describing_json import SelfDescribingJson
from snowplow_tracker.subject import Subject
from snowplow_tracker.tracker import Tracker

CONTEXT_SCHEMA = "iglu:com.acme/perf_context/jsonschema/1-0-0"
KIND = os.environ.get("FLEET_KIND", "process")
HOST, _, PORT = os.environ.get("FLEET_COLLECTOR", "127.0.0.1:9090").rpartition(":")


class NoopEmitter:
    """An emitter whose ``input`` does nothing: the Tracker's own cost."""

    def input(self, payload: Dict[str, Any]) -> None:
        """Forget the event."""

    def flush(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to send."""


def _emitter() -> Any:
    if KIND == "noop":
        return NoopEmitter()
    import snowplow_tracker as sp

    cls = {"process": getattr(sp, "ProcessEmitter", None), "async": sp.AsyncEmitter}[KIND]
    if cls is None:
        raise RuntimeError(f"this snowplow_tracker has no emitter of kind {KIND!r}")
    return cls(HOST, protocol="http", port=int(PORT))


def _tracker(emitter: Any) -> Any:
    subject = Subject().set_user_id("perf-user-42").set_platform("srv")
    if list(inspect.signature(Tracker.__init__).parameters)[1] == "namespace":  # 1.x
        return Tracker(namespace="perf", emitters=emitter, subject=subject, app_id="perf-app")
    return Tracker(emitter, subject=subject, namespace="perf", app_id="perf-app")


EMITTER = _emitter()
TRACKER = _tracker(EMITTER)
CONTEXT = [SelfDescribingJson(CONTEXT_SCHEMA, {"suite": "perf", "variant": "fleet", "shard": 7})]

StartResponse = Callable[[str, List[Tuple[str, str]]], Any]


def app(environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """``/track``: one event; ``/health``: nothing tracked."""
    if environ.get("PATH_INFO") == "/track":
        TRACKER.track_struct_event("perf", "track", "fleet", "prop", 1.5, CONTEXT)
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
