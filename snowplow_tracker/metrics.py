"""Prometheus metrics from every registered emitter's ``stats()``, read at scrape time.

One line turns it on (the ``metrics`` extra installs ``prometheus_client``)::

    from snowplow_tracker import register_metrics
    register_metrics(emitter, name="api")   # then expose the registry as usual

Each scrape calls ``stats()`` on every registered emitter (or ``RedisWorker``) and exports each
integer key as a metric family ``snowplow_tracker_<key>`` labelled ``emitter="<name>"``: the
keys that say how much is held now (``queued``, ``queued_bytes``, ``in_flight``,
``senders_alive``: any key starting with ``queued`` or ``in_flight``, or ending in ``_alive``)
are gauges; every other integer key (``accepted``, ``sent``, ``failed``, ``retried``,
``dropped``, ...) is a counter, exposed with the ``_total`` suffix. A key an emitter adds later
is exported with no change here. Tracking an event costs nothing more: the counters are the
ones ``stats()`` keeps anyway.

``prometheus_client`` is imported by :func:`register_metrics` only, never by importing
``snowplow_tracker``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import threading
import weakref
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from . import arguments as _args
from ._logging import logger

__all__ = ["register_metrics"]

PREFIX = "snowplow_tracker_"
LABEL = "emitter"
_GAUGE_PREFIXES = ("queued", "in_flight")
_GAUGE_SUFFIXES = ("_alive",)
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

# One collector per registry, so that two emitters' metrics share their families (a registry
# refuses two collectors exposing the same names).
_collectors: weakref.WeakKeyDictionary[Any, _StatsCollector] = weakref.WeakKeyDictionary()
_collectors_lock = threading.Lock()


def is_gauge(key: str) -> bool:
    """Whether a ``stats()`` key is a level (a gauge) rather than a running total (a counter).

    Args:
        key: The key, e.g. ``"queued_bytes"``.
    """
    return key.startswith(_GAUGE_PREFIXES) or key.endswith(_GAUGE_SUFFIXES)


def stats_values(stats: Any) -> Dict[str, int]:
    """The integer entries of a ``stats()`` result (a dataclass, a mapping or ``as_dict()``).

    Args:
        stats: What an emitter's ``stats()`` returned.
    """
    if hasattr(stats, "as_dict"):
        items: Mapping[str, Any] = stats.as_dict()
    elif dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        items = dataclasses.asdict(stats)
    elif isinstance(stats, Mapping):
        items = stats
    else:
        return {}
    return {
        str(k): v
        for k, v in items.items()
        if _args.is_integer(v) and _METRIC_NAME.match(PREFIX + str(k))
    }


def help_texts(stats: Any) -> Dict[str, str]:
    """The ``Attributes:`` entries of a stats class's docstring, by attribute name, as plain text.

    Args:
        stats: A ``stats()`` result; its class's docstring documents its keys.
    """
    doc = inspect.cleandoc(type(stats).__doc__ or "")
    texts: Dict[str, str] = {}
    current: Optional[str] = None
    in_section = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped == "Attributes:":
            in_section = True
            continue
        if not in_section:
            continue
        entry = re.match(r"^\s{4}(\w+):\s*(.*)$", line)
        if entry and not line.startswith(" " * 8):
            current = entry[1]
            texts[current] = entry[2]
        elif stripped and current is not None and line.startswith(" " * 8):
            texts[current] += " " + stripped
        elif stripped:
            break
    return {key: text.replace("``", "") for key, text in texts.items()}


class _StatsCollector:
    """A ``prometheus_client`` custom collector over the emitters registered on one registry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._emitters: Dict[str, Callable[[], Any]] = {}

    def add(self, name: str, emitter: Any) -> None:
        """Export ``emitter``'s stats under ``name``; a name is held by one live emitter."""
        try:
            ref: Callable[[], Any] = weakref.ref(emitter)
        except TypeError:  # an object without weak references (``__slots__``): hold it
            ref = lambda: emitter  # noqa: E731
        with self._lock:
            held = self._emitters.get(name)
            current = held() if held is not None else None
            if current is not None and current is not emitter:
                _args.fail(
                    "register_metrics",
                    "name",
                    "a name no other live emitter is registered under",
                    name,
                )
            self._emitters[name] = ref

    def _snapshots(self) -> List[Tuple[str, Any]]:
        with self._lock:
            for name in [n for n, ref in self._emitters.items() if ref() is None]:
                del self._emitters[name]
            live = [(name, ref()) for name, ref in sorted(self._emitters.items())]
        snapshots = []
        for name, emitter in live:
            try:
                snapshots.append((name, emitter.stats()))
            except Exception:  # one emitter's failure must not fail the scrape
                logger.debug("metrics: stats() of emitter %r failed", name, exc_info=True)
        return snapshots

    def describe(self) -> List[Any]:
        """Nothing up front: the families depend on what the emitters report at scrape time."""
        return []

    def collect(self) -> Iterator[Any]:
        """One metric family per ``stats()`` key, one sample per registered emitter."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        families: Dict[str, Any] = {}
        for name, stats in self._snapshots():
            helps = help_texts(stats)
            for key, value in stats_values(stats).items():
                family = families.get(key)
                if family is None:
                    doc = helps.get(key) or f"The emitter's stats() entry {key!r}."
                    kind = GaugeMetricFamily if is_gauge(key) else CounterMetricFamily
                    family = families[key] = kind(PREFIX + key, doc, labels=[LABEL])
                family.add_metric([name], value)
        yield from families.values()


def register_metrics(emitter: Any, name: str, registry: Optional[Any] = None) -> None:
    """Export ``emitter.stats()`` as Prometheus metrics labelled ``emitter=name``.

    Registering several emitters on one registry is fine; each needs its own ``name``. The
    emitter is held by a weak reference: once it is garbage-collected its metrics disappear,
    and its name can be registered again. Registering the same emitter under the same name
    again does nothing.

    Args:
        emitter: Any emitter (or ``RedisWorker``, or object) with a ``stats()`` method.
        name: The ``emitter`` label of its metrics, e.g. ``"api"``.
        registry: A ``prometheus_client.CollectorRegistry``; ``prometheus_client.REGISTRY``
            (what ``start_http_server`` and ``generate_latest`` use by default) if None.

    Raises:
        ConfigurationError: ``emitter`` has no ``stats()`` method, ``name`` is not a non-empty
            string or another live emitter has it, or ``prometheus_client`` is not installed.
    """
    where = "register_metrics"
    if not callable(getattr(emitter, "stats", None)):
        _args.fail(where, "emitter", "an object with a stats() method", emitter)
    if not isinstance(name, str) or not name:
        _args.fail(where, "name", "a non-empty string", name)
    try:
        import prometheus_client
    except ImportError:
        prometheus_client = None  # type: ignore[assignment]
    if prometheus_client is None:
        _args.refuse(
            where,
            "needs the prometheus_client package: "
            "pip install 'snowplow-multiprocess-tracker[metrics]'",
        )
    target = prometheus_client.REGISTRY if registry is None else registry
    with _collectors_lock:
        collector = _collectors.get(target)
        if collector is None:
            collector = _collectors[target] = _StatsCollector()
            target.register(collector)
    collector.add(name, emitter)
