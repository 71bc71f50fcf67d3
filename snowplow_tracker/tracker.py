"""The Tracker: checks ``track_*`` arguments, builds each event's payload, hands it to emitters.

The ``track_*`` methods are generated from the event descriptions in
:mod:`snowplow_tracker.events.table` into :mod:`snowplow_tracker.events.track_methods` (by
``python -m tools.generate_tracker``): they run in the caller's hot path, so the generated code is
what hand-inlined code would be (see ``tools/compiler.py``). The constant fields (``tv``, ``tna``,
``aid``) are precomputed, and the subject's fields are a ready-made dict
(:class:`~snowplow_tracker.subject.Subject`), copied with one ``dict.update``.

The payload is a flat ``dict[str, str]``. **The same dict object is handed to every emitter**, so
an emitter must not modify it (copy it first if it needs to). Everything that can fail (argument
checks, JSON serialisation, every item of a transaction) happens before the first emitter is
called; an exception raised by an emitter's ``input`` propagates to the caller.
"""

from __future__ import annotations

import inspect
import time
from typing import (
    Any,
    Dict,
    List,
    Optional,
    Protocol,
    Sequence,
    Union,
    overload,
)

from . import arguments as _args
from ._version import TRACKER_VERSION
from .events import track_methods as _generated
from .events.event import Event
from .events.routes import ROUTES
from .events.runtime import new_event_id
from .protocol import contracts as _contracts
from .protocol.constants import DEFAULT_ENCODE_BASE64
from .protocol.payload import JsonEncoder, Payload, PayloadDict
from .protocol.self_describing_json import SelfDescribingJson
from .subject import Subject

_BUILD_PAYLOAD = Event.build_payload

#: The ``tv`` value every event carries (``py-<version>``), the name tracker 1.x code reads.
VERSION = TRACKER_VERSION

Context = Optional[Sequence[SelfDescribingJson]]
Emitters = Union["EmitterLike", Sequence["EmitterLike"]]

__all__ = ["VERSION", "EmitterLike", "Tracker", "new_event_id"]


class EmitterLike(Protocol):
    """What a tracker needs from an emitter: an ``input`` method taking one payload dict.

    Custom emitters need nothing else (an optional ``flush`` is called by
    :meth:`Tracker.flush`). ``input`` must not modify the dict: the same object is handed to
    every emitter of the tracker.
    """

    def input(self, payload: PayloadDict) -> Any:
        """Accept one event.

        Args:
            payload: The event's fields, protocol names to string values.
        """


def _accepts_is_async(flush: Any) -> bool:
    try:
        params = inspect.signature(flush).parameters.values()
    except (TypeError, ValueError):
        return False
    for param in params:
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            return True
        if param.name == "is_async" and param.kind is not inspect.Parameter.POSITIONAL_ONLY:
            return True
    return False


def _emitter_list(where: str, emitters: Any) -> List[EmitterLike]:
    if isinstance(emitters, (list, tuple)):
        if not emitters:
            _args.fail(where, "emitters", "an emitter or a non-empty list of emitters", [])
        for i, emitter in enumerate(emitters):
            _args.emitter(where, f"emitters[{i}]", emitter)
        return list(emitters)
    _args.emitter(where, "emitters", emitters)
    return [emitters]


class Tracker:
    """Builds Snowplow events and sends them to one or more emitters.

    Every ``track_*`` method validates its arguments (while contracts are enabled), builds the
    event's payload, hands the same payload dict to every emitter's ``input`` and returns the
    tracker, so calls can be chained. Each accepts, after its own arguments:

    * ``context``: a non-empty list of :class:`SelfDescribingJson` context entities, or None;
    * ``tstamp``: the true time of the event in milliseconds since the epoch (a positive
      number), sent as ``ttm``; the device time ``dtm`` (now) is always sent;
    * ``event_subject``: a :class:`Subject` whose fields are merged over the tracker's subject
      for this event only (see :meth:`Subject.combine_subject`).

    :meth:`track` sends a 1.x event object (:mod:`snowplow_tracker.events`) and returns its id.

    **Two positional orders.** The documented order is ``Tracker(emitters, subject, namespace,
    app_id, encode_base64, json_encoder)``. snowplow-tracker 1.x's is ``Tracker(namespace,
    emitters, subject, app_id, encode_base64, json_encoder)``. The rule: when the first
    positional argument is a ``str`` it is the namespace, and the next two positional arguments
    are the emitters and the subject (1.x); otherwise the first is the emitters (documented).
    Keyword arguments mean the same in both.

    Args:
        emitters: One emitter, or a non-empty list of emitters. An emitter is any object with an
            ``input(payload)`` method (see :class:`EmitterLike`).
        subject: The subject whose fields go with every event; a fresh :class:`Subject` (only
            ``p="pc"``) when None.
        namespace: The tracker namespace, sent as ``tna``.
        app_id: The application id, sent as ``aid``.
        encode_base64: Send self-describing events and contexts as URL-safe base64
            (``ue_px``/``cx``) rather than plain JSON (``ue_pr``/``co``).
        json_encoder: Called by the JSON serialiser (orjson's ``default``) for objects it cannot
            serialise (in context and event data); returns a serialisable replacement.

    Raises:
        ConfigurationError: An argument is invalid (always checked, whatever the contracts).
    """

    @overload
    def __init__(
        self,
        emitters: Emitters,
        subject: Optional[Subject] = None,
        namespace: Optional[str] = None,
        app_id: Optional[str] = None,
        encode_base64: bool = DEFAULT_ENCODE_BASE64,
        json_encoder: Optional[JsonEncoder] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        namespace: str,
        emitters: Emitters,
        subject: Optional[Subject] = None,
        app_id: Optional[str] = None,
        encode_base64: bool = DEFAULT_ENCODE_BASE64,
        json_encoder: Optional[JsonEncoder] = None,
    ) -> None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        where = "Tracker"
        names = ["emitters", "subject", "namespace"]
        if args and isinstance(args[0], str):
            names = ["namespace", "emitters", "subject"]
        names += ["app_id", "encode_base64", "json_encoder"]
        if len(args) > len(names):
            raise TypeError(f"Tracker() takes at most 6 positional arguments ({len(args)} given)")
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"Tracker() got multiple values for argument '{name}'")
            kwargs[name] = value
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(f"Tracker() got an unexpected keyword argument '{unknown[0]}'")
        if "emitters" not in kwargs:
            raise TypeError("Tracker() missing required argument: 'emitters'")
        emitter_list = _emitter_list(where, kwargs["emitters"])
        subject = kwargs.get("subject")
        namespace = kwargs.get("namespace")
        app_id = kwargs.get("app_id")
        encode_base64 = kwargs.get("encode_base64", DEFAULT_ENCODE_BASE64)
        json_encoder = kwargs.get("json_encoder")
        _args.optional_instance(where, "subject", subject, Subject)
        for name, text in (("namespace", namespace), ("app_id", app_id)):
            _args.optional_string(where, name, text)
            if text is not None and not _contracts.is_text(text):  # sent with every event
                _args.fail(where, name, _contracts.TEXT_EXPECTED, text)
        _args.boolean(where, "encode_base64", encode_base64)
        _args.optional_callable(where, "json_encoder", json_encoder)
        #: The emitters every event is handed to, in order.
        self.emitters: List[EmitterLike] = emitter_list
        self._subject: Subject = subject if subject is not None else Subject()
        #: Whether JSON fields are sent base64-encoded (``ue_px``/``cx``) or plain.
        self.encode_base64: bool = encode_base64
        #: Custom JSON encoder (orjson's ``default``), or None.
        self.json_encoder: Optional[JsonEncoder] = json_encoder
        self._namespace: Optional[str] = namespace
        self._app_id: Optional[str] = app_id
        # The constant fields of every event (``tna`` and ``aid`` only when configured).
        constant = {"tv": TRACKER_VERSION, "tna": namespace, "aid": app_id}
        self._standard: PayloadDict = {k: v for k, v in constant.items() if v}

    # ------------------------------------------------------------------ configuration

    @property
    def namespace(self) -> Optional[str]:
        """The tracker namespace (``tna``)."""
        return self._namespace

    def get_namespace(self) -> Optional[str]:
        """Return the tracker namespace (``tna``), as tracker 1.x does."""
        return self._namespace

    @property
    def app_id(self) -> Optional[str]:
        """The application id (``aid``)."""
        return self._app_id

    @property
    def standard_nv_pairs(self) -> Dict[str, Optional[str]]:
        """The fields every event carries, as tracker 1.x shows them: ``tv``, ``tna`` and ``aid``.

        ``tna`` and ``aid`` are None when not configured (and then not sent).
        """
        return {"tv": TRACKER_VERSION, "tna": self._namespace, "aid": self._app_id}

    @property
    def subject(self) -> Subject:
        """The tracker's subject; assigning None installs a fresh :class:`Subject`."""
        return self._subject

    @subject.setter
    def subject(self, subject: Optional[Subject]) -> None:
        self.set_subject(subject)

    def set_subject(self, subject: Optional[Subject]) -> Tracker:
        """Replace the subject whose fields go with every event.

        Args:
            subject: The new subject; None installs a fresh :class:`Subject` (``p="pc"``), so
                that every event still carries the required platform.

        Raises:
            ValidationError: ``subject`` is neither a Subject nor None (always checked).
        """
        if subject is None:
            subject = Subject()
        elif not isinstance(subject, Subject):
            _contracts.fail("Tracker.set_subject", "subject", "a Subject or None", subject)
        self._subject = subject
        return self

    def add_emitter(self, emitter: EmitterLike) -> Tracker:
        """Add an emitter that receives every later event.

        Args:
            emitter: Any object with an ``input(payload)`` method.

        Raises:
            ConfigurationError: ``emitter`` has no ``input`` method (always checked).
        """
        _args.emitter("Tracker.add_emitter", "emitter", emitter)
        self.emitters.append(emitter)
        return self

    def flush(self, is_async: bool = False) -> Tracker:
        """Ask every emitter to send what it has buffered.

        A blocking flush calls an emitter's ``sync_flush()`` when it has one (tracker 1.x's
        emitter protocol). Otherwise, for each emitter with a ``flush`` attribute:
        ``emitter.flush(is_async=is_async)`` if its ``flush`` accepts that keyword, else
        ``emitter.flush()`` (custom emitters). Emitters without either are skipped.

        Args:
            is_async: False to wait until buffered events are sent (or failed), True to start
                sending and return at once.
        """
        for emitter in self.emitters:
            sync_flush = getattr(emitter, "sync_flush", None)
            if not is_async and sync_flush is not None:
                sync_flush()
                continue
            flush = getattr(emitter, "flush", None)
            if flush is None:
                continue
            if _accepts_is_async(flush):
                flush(is_async=is_async)
            else:
                flush()
        return self

    @staticmethod
    def get_uuid() -> str:
        """Return a new random version-4 UUID string (as used for ``eid``)."""
        return new_event_id()

    @staticmethod
    def get_timestamp(tstamp: Optional[float] = None) -> int:
        """Return ``tstamp`` as an int when it is a number, else the current time in ms.

        Args:
            tstamp: A timestamp in milliseconds, or None (anything that is not an int or a
                float means "now", as in tracker 0.10 and 1.x).
        """
        if isinstance(tstamp, (int, float)):
            return int(tstamp)
        return time.time_ns() // 1_000_000

    # ------------------------------------------------------------------ 1.x event objects

    def complete_payload(self, event: Event) -> Payload:
        """Return ``event``'s full payload: its own fields, then ``eid``, ``dtm``, ``tv``...

        Args:
            event: A 1.x event object (:mod:`snowplow_tracker.events`).

        Raises:
            ValidationError: An argument of the event breaks its contract.
            EncodingError: The event's JSON cannot be serialised.
        """
        payload = event.build_payload(self.encode_base64, self.json_encoder, self._subject)
        p = payload.nv_pairs
        p["eid"] = self.get_uuid()
        p["dtm"] = str(time.time_ns() // 1_000_000)
        p.update(self._standard)
        return payload

    def track(self, event: Event) -> str:
        """Track a 1.x event object and return its event id (``eid``).

        The payload is the one the matching ``track_*`` method sends (both are generated from the
        same description, see :mod:`snowplow_tracker.events.table`).

        Args:
            event: A :class:`~snowplow_tracker.events.PageView`, ``PagePing``, ``ScreenView``,
                ``StructuredEvent``, ``SelfDescribing`` or ``Event``.

        Raises:
            ValidationError: An argument of the event breaks its contract; nothing is sent.
            EncodingError: The event's JSON cannot be serialised; nothing is sent.
        """
        if not callable(getattr(event, "build_payload", None)):
            _contracts.fail(
                "Tracker.track",
                "event",
                "an event object (PageView, StructuredEvent, SelfDescribing... or one with a "
                "build_payload method)",
                event,
            )
        p = self.complete_payload(event).nv_pairs
        if getattr(type(event), "build_payload", None) is _BUILD_PAYLOAD:
            self._send(p)  # built by the generated code: already in protocol form
        else:  # a user's build_payload: let each emitter check the dict
            for emitter in self.emitters:
                emitter.input(p)
        return p["eid"]

    # ------------------------------------------------------------------ internals

    def _send(self, p: PayloadDict) -> None:
        for emitter in self.emitters:
            # Emitters of this library may offer a path that skips re-checking our own dicts.
            getattr(emitter, "_tracker_input", emitter.input)(p)

    # ------------------------------------------------------------------ track_* methods
    # Generated from the event descriptions (see snowplow_tracker.events.track_methods).

    track_page_view = _generated.track_page_view
    track_page_ping = _generated.track_page_ping
    track_struct_event = _generated.track_struct_event
    track_self_describing_event = _generated.track_self_describing_event
    track_unstruct_event = _generated.track_unstruct_event
    track_link_click = _generated.track_link_click
    track_add_to_cart = _generated.track_add_to_cart
    track_remove_from_cart = _generated.track_remove_from_cart
    track_form_change = _generated.track_form_change
    track_form_submit = _generated.track_form_submit
    track_site_search = _generated.track_site_search
    track_screen_view = _generated.track_screen_view
    track_mobile_screen_view = _generated.track_mobile_screen_view
    track_ecommerce_transaction_item = _generated.track_ecommerce_transaction_item
    track_ecommerce_transaction = _generated.track_ecommerce_transaction


_generated.bind(Tracker, ROUTES)
