"""``Snowplow``: the registry of trackers by namespace (the 1.x API).

Example:
    >>> from snowplow_tracker import EmitterConfiguration, Snowplow
    >>> t = Snowplow.create_tracker("ns", "collector.example.com",
    ...                             emitter_config=EmitterConfiguration(emitter="process"))
    ... # doctest: +SKIP
    >>> Snowplow.get_tracker("ns") is t  # doctest: +SKIP
    True
"""

from __future__ import annotations

import threading
from typing import ClassVar, Dict, Optional

from . import arguments as _args
from ._logging import logger
from .emitter_configuration import EmitterConfiguration
from .protocol.wire import check_method
from .subject import Subject
from .tracker import Tracker
from .tracker_configuration import TrackerConfiguration

_WHERE = "Snowplow.create_tracker"


class Snowplow:
    """Creates trackers and finds them again by namespace (class methods only; thread-safe).

    Removing a tracker (or :meth:`reset`) only forgets it: flush or close its emitters first if
    their buffered events matter.
    """

    _trackers: ClassVar[Dict[str, Tracker]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @staticmethod
    def create_tracker(
        namespace: str,
        endpoint: str,
        method: str = "post",
        app_id: Optional[str] = None,
        subject: Optional[Subject] = None,
        tracker_config: Optional[TrackerConfiguration] = None,
        emitter_config: Optional[EmitterConfiguration] = None,
    ) -> Tracker:
        """Create a tracker with one emitter sending to ``endpoint``, and register it.

        The emitter is the kind ``emitter_config.emitter`` names (a synchronous ``Emitter`` by
        default, as in 1.x; ``"process"`` for a ``ProcessEmitter``), built with the
        configuration's fields that it accepts. Fields it does not accept yet are logged at
        WARNING, once per call.

        Args:
            namespace: The tracker's namespace (``tna``), a non-empty string, unique here.
            endpoint: The collector: a host, or a URL with its scheme.
            method: ``"post"`` (default, as in 1.x) or ``"get"``.
            app_id: The application id (``aid``).
            subject: The tracker's subject.
            tracker_config: Tracker options; the defaults when None.
            emitter_config: Emitter options; the defaults when None.

        Raises:
            ConfigurationError: An argument is invalid, or a tracker with this namespace exists.
        """
        _args.non_empty_string(_WHERE, "namespace", namespace)
        _args.non_empty_string(_WHERE, "endpoint", endpoint)
        check_method(method, _WHERE)
        _args.optional_instance(_WHERE, "tracker_config", tracker_config, TrackerConfiguration)
        _args.optional_instance(_WHERE, "emitter_config", emitter_config, EmitterConfiguration)
        tracker_config = tracker_config or TrackerConfiguration()
        emitter_config = emitter_config or EmitterConfiguration()
        if namespace in Snowplow._trackers:
            _args.fail(_WHERE, "namespace", "a namespace not used by another tracker", namespace)
        missing = emitter_config.unsupported()
        if missing:
            logger.warning(
                "Snowplow.create_tracker: %s does not accept %s yet; not applied",
                emitter_config.emitter_class().__name__,
                ", ".join(missing),
            )
        emitter = emitter_config.emitter_class()(
            endpoint, method=method, **emitter_config.emitter_arguments()
        )
        tracker = Tracker(
            namespace=namespace,
            emitters=emitter,
            subject=subject,
            app_id=app_id,
            encode_base64=tracker_config.encode_base64,
            json_encoder=tracker_config.json_encoder,
        )
        return Snowplow.add_tracker(tracker)

    @classmethod
    def add_tracker(cls, tracker: Tracker) -> Tracker:
        """Register a tracker under its namespace and return it.

        Args:
            tracker: A Tracker with a namespace not registered yet.

        Raises:
            ConfigurationError: ``tracker`` is not a Tracker with a namespace, or the namespace
                is taken.
        """
        if not isinstance(tracker, Tracker) or not tracker.namespace:
            _args.fail("Snowplow.add_tracker", "tracker", "a Tracker with a namespace", tracker)
        namespace = tracker.namespace
        with cls._lock:
            if namespace in cls._trackers:
                _args.fail(
                    "Snowplow.add_tracker",
                    "tracker",
                    "a Tracker whose namespace is not registered yet",
                    namespace,
                )
            cls._trackers[namespace] = tracker
        logger.info("Tracker with namespace %r added to Snowplow", namespace)
        return tracker

    @classmethod
    def remove_tracker(cls, tracker: Tracker) -> None:
        """Forget a tracker (nothing happens when it is not registered).

        Args:
            tracker: The tracker.
        """
        namespace = tracker.namespace
        if namespace is not None:
            cls.remove_tracker_by_namespace(namespace)

    @classmethod
    def remove_tracker_by_namespace(cls, namespace: str) -> None:
        """Forget the tracker registered under ``namespace``, if any.

        Args:
            namespace: The tracker's namespace.
        """
        with cls._lock:
            removed = cls._trackers.pop(namespace, None)
        if removed is not None:
            logger.info("Tracker with namespace %r removed from Snowplow", namespace)

    @classmethod
    def reset(cls) -> None:
        """Forget every registered tracker."""
        with cls._lock:
            cls._trackers = {}

    @classmethod
    def get_tracker(cls, namespace: str) -> Optional[Tracker]:
        """Return the tracker registered under ``namespace``, or None.

        Args:
            namespace: The tracker's namespace.
        """
        return cls._trackers.get(namespace)
