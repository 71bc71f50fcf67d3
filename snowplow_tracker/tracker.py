"""The Tracker: checks ``track_*`` arguments, builds each event's payload, hands it to emitters.

The ``track_*`` methods are compiled at import time from the event descriptions in
:mod:`snowplow_tracker.events.table` (see :mod:`snowplow_tracker.events.compiler`); the ``def``
statements below give them their typed signatures and docstrings. They run in the caller's hot
path, so the compiled code is what hand-inlined code would be:

* argument checks run only while contracts are enabled (see
:mod:`snowplow_tracker.protocol.contracts`),
  and the common case is tested inline before any helper is called;
* the constant fields (``tv``, ``tna``, ``aid``) are precomputed, and the subject's fields are
  a ready-made dict (:class:`~snowplow_tracker.subject.Subject`), copied with one ``dict.update``;
* the event id is a version-4 UUID built from :func:`os.urandom` in batches (see
  :func:`~snowplow_tracker.events.compiler.new_event_id`);
* JSON (contexts, self-describing events) is serialised once, by orjson.

The payload is a flat ``dict[str, str]``. **The same dict object is handed to every emitter**, so
an emitter must not modify it (copy it first if it needs to). Everything that can fail (argument
checks, JSON serialisation, every item of a transaction) happens before the first emitter is
called; an exception raised by an emitter's ``input`` propagates to the caller.

Two constructor orders are accepted (see :class:`Tracker`): the documented
``Tracker(emitters, subject, namespace, ...)`` and snowplow-tracker 1.x's
``Tracker(namespace, emitters, subject, ...)``.
"""

from __future__ import annotations

import inspect
import time
from typing import (
    Any,
    Dict,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Union,
    overload,
)

from . import arguments as _args
from ._version import TRACKER_VERSION
from .events import table as _table
from .events.compiler import bind_overrides, new_event_id
from .events.event import Event
from .events.routes import track_method
from .protocol import contracts as _contracts
from .protocol.constants import CONTEXT_SCHEMA, DEFAULT_ENCODE_BASE64
from .protocol.payload import JsonEncoder, Payload, PayloadDict, encode_json
from .protocol.self_describing_json import SelfDescribingJson
from .subject import Subject

_BUILD_PAYLOAD = Event.build_payload

#: The ``tv`` value every event carries (``py-<version>``), the name tracker 1.x code reads.
VERSION = TRACKER_VERSION

# The unchecked ``e=ti`` fields of one transaction item (checked with the transaction).

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

    @overload
    def __init__(
        self,
        *,
        emitters: Emitters,
        subject: Optional[Subject] = None,
        namespace: Optional[str] = None,
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
        self._standard: PayloadDict = {}
        self._update_standard()

    # ------------------------------------------------------------------ configuration

    def _update_standard(self) -> None:
        standard: PayloadDict = {"tv": TRACKER_VERSION}
        if self._namespace:
            standard["tna"] = self._namespace
        if self._app_id:
            standard["aid"] = self._app_id
        self._standard = standard

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

        The payload is the one the matching ``track_*`` method sends (both are compiled from the
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
            self._send(p)  # built by the compiled code: already in protocol form
        else:  # a user's build_payload: let each emitter check the dict
            for emitter in self.emitters:
                emitter.input(p)
        return p["eid"]

    # ------------------------------------------------------------------ internals

    def _contexts(self, method: str, context: Sequence[SelfDescribingJson]) -> str:
        return encode_json(
            {"schema": CONTEXT_SCHEMA, "data": [c.to_json() for c in context]},
            self.encode_base64,
            self.json_encoder,
            method,
            "context",
        )

    def _send(self, p: PayloadDict) -> None:
        for emitter in self.emitters:
            # Emitters of this library may offer a path that skips re-checking our own dicts.
            getattr(emitter, "_tracker_input", emitter.input)(p)

    # ------------------------------------------------------------------ page events

    @track_method(_table.PAGE_VIEW)
    def track_page_view(
        self,
        page_url: str,
        page_title: Optional[str] = None,
        referrer: Optional[str] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a page view (``e=pv``).

        Args:
            page_url: The page URL (``url``), a non-empty string.
            page_title: The page title (``page``).
            referrer: The referrer URL (``refr``).
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.PAGE_PING)
    def track_page_ping(
        self,
        page_url: str,
        page_title: Optional[str] = None,
        referrer: Optional[str] = None,
        min_x: Optional[int] = None,
        max_x: Optional[int] = None,
        min_y: Optional[int] = None,
        max_y: Optional[int] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a page ping (``e=pp``): the user is still on the page, with scroll offsets.

        Offsets of 0 are sent (``pp_mix=0``), as tracker 1.1.0 does.

        Args:
            page_url: The page URL (``url``), a non-empty string.
            page_title: The page title (``page``).
            referrer: The referrer URL (``refr``).
            min_x: Minimum horizontal scroll offset in the ping period (``pp_mix``), an int.
            max_x: Maximum horizontal scroll offset (``pp_max``), an int.
            min_y: Minimum vertical scroll offset (``pp_miy``), an int.
            max_y: Maximum vertical scroll offset (``pp_may``), an int.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    # ------------------------------------------------------------------ structured event

    @track_method(_table.STRUCT_EVENT)
    def track_struct_event(
        self,
        category: str,
        action: str,
        label: Optional[str] = None,
        property_: Optional[str] = None,
        value: Optional[float] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a structured event (``e=se``), Google Analytics style.

        Args:
            category: The group of events the action belongs to (``se_ca``), non-empty.
            action: The kind of interaction (``se_ac``), a non-empty string.
            label: Extra information about the event (``se_la``).
            property_: The object or property acted upon (``se_pr``).
            value: A number (``se_va``), an int or a finite float; sent as ``str(value)``.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    # ------------------------------------------------------------------ self-describing events

    @track_method(_table.SELF_DESCRIBING_EVENT)
    def track_self_describing_event(
        self,
        event_json: SelfDescribingJson,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a self-describing event (``e=ue``) with any schema.

        The event is wrapped in the ``unstruct_event`` 1-0-0 envelope and sent as ``ue_px``
        (base64) or ``ue_pr``.

        Args:
            event_json: The event, a SelfDescribingJson (schema URI and data).
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.UNSTRUCT_EVENT)
    def track_unstruct_event(
        self,
        event_json: SelfDescribingJson,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a self-describing event (alias of :meth:`track_self_describing_event`).

        Same behaviour; error messages name ``Tracker.track_unstruct_event``.

        Args:
            event_json: The event, a SelfDescribingJson (schema URI and data).
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.LINK_CLICK)
    def track_link_click(
        self,
        target_url: str,
        element_id: Optional[str] = None,
        element_classes: Optional[Sequence[str]] = None,
        element_target: Optional[str] = None,
        element_content: Optional[str] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a link click (self-describing ``link_click`` 1-0-1).

        Args:
            target_url: The link's URL (``targetUrl``), a non-empty string.
            element_id: The link element's id attribute.
            element_classes: The link element's classes, a list of strings.
            element_target: The link element's target attribute.
            element_content: The link element's content (text).
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.ADD_TO_CART)
    def track_add_to_cart(
        self,
        sku: str,
        quantity: float,
        name: Optional[str] = None,
        category: Optional[str] = None,
        unit_price: Optional[float] = None,
        currency: Optional[str] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track items added to a cart (self-describing ``add_to_cart`` 1-0-0).

        Args:
            sku: The item's SKU, a non-empty string.
            quantity: How many were added, a number.
            name: The item's name.
            category: The item's category.
            unit_price: The item's unit price, a number.
            currency: The currency of the price, e.g. ``"EUR"``.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.REMOVE_FROM_CART)
    def track_remove_from_cart(
        self,
        sku: str,
        quantity: float,
        name: Optional[str] = None,
        category: Optional[str] = None,
        unit_price: Optional[float] = None,
        currency: Optional[str] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track items removed from a cart (self-describing ``remove_from_cart`` 1-0-0).

        Args:
            sku: The item's SKU, a non-empty string.
            quantity: How many were removed, a number.
            name: The item's name.
            category: The item's category.
            unit_price: The item's unit price, a number.
            currency: The currency of the price, e.g. ``"EUR"``.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.FORM_CHANGE)
    def track_form_change(
        self,
        form_id: str,
        element_id: str,
        node_name: str,
        value: Optional[str],
        type_: Optional[str] = None,
        element_classes: Optional[Sequence[str]] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a change to a form field (self-describing ``change_form`` 1-0-0).

        ``type_`` is accepted in any letter case and sent in lower case (the schema's enum is
        lower case; tracker 1.1.0 accepted ``"TEXT"`` but sent it unchanged, which fails the
        schema).

        Args:
            form_id: The form's id attribute, a non-empty string of at most 4096 characters.
            element_id: The field's id attribute, a string (required by the schema) of at most
                4096 characters.
            node_name: The field's node name: ``"INPUT"``, ``"SELECT"`` or ``"TEXTAREA"``.
            value: The field's new value, a string of at most 65535 characters, or None.
            type_: The input type, e.g. ``"text"`` or ``"checkbox"`` (see
                :data:`~snowplow_tracker.protocol.constants.FORM_TYPES`).
            element_classes: The field's classes, a list of strings of at most 4096 characters.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.FORM_SUBMIT)
    def track_form_submit(
        self,
        form_id: str,
        form_classes: Optional[Sequence[str]] = None,
        elements: Optional[Sequence[Mapping[str, Any]]] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a form submission (self-describing ``submit_form`` 1-0-0).

        Args:
            form_id: The form's id attribute, a non-empty string of at most 4096 characters.
            form_classes: The form's classes, a list of strings of at most 4096 characters.
            elements: The form's fields, each a dict with ``name`` (string), ``value`` (string
                or None; both at most 65535 characters), ``nodeName`` (``"INPUT"``,
                ``"SELECT"`` or ``"TEXTAREA"``) and optionally ``type`` (an input type; leave
                the key out rather than give None, which the schema refuses); an empty list is
                not sent.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.SITE_SEARCH)
    def track_site_search(
        self,
        terms: Sequence[str],
        filters: Optional[Mapping[str, Union[str, bool]]] = None,
        total_results: Optional[int] = None,
        page_results: Optional[int] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a search on the site (self-describing ``site_search`` 1-0-0).

        Args:
            terms: The search terms, a non-empty list of strings.
            filters: Filters applied, a dict of strings to strings or booleans.
            total_results: Number of results, an integer from 0 to 2147483647.
            page_results: Number of results on the first page, same range.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.SCREEN_VIEW)
    def track_screen_view(
        self,
        name: Optional[str] = None,
        id_: Optional[str] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a screen view (self-describing ``com.snowplowanalytics.snowplow/screen_view``).

        At least one of ``name`` and ``id_`` is required. For the mobile screen view schema use
        :meth:`track_mobile_screen_view`.

        Args:
            name: Human-readable name of the screen, a non-empty string.
            id_: Identifier of the screen, a string.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.MOBILE_SCREEN_VIEW)
    def track_mobile_screen_view(
        self,
        name: str,
        id_: Optional[str] = None,
        type: Optional[str] = None,
        previous_name: Optional[str] = None,
        previous_id: Optional[str] = None,
        previous_type: Optional[str] = None,
        transition_type: Optional[str] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track a mobile screen view (self-describing ``mobile/screen_view`` 1-0-0).

        Args:
            name: The screen's name, a non-empty string.
            id_: The screen view's id, a UUID string; a new random UUID when None.
            type: The kind of screen, e.g. ``"feed"`` or ``"carousel"``.
            previous_name: The previous screen's name.
            previous_id: The previous screen view's id, a UUID string.
            previous_type: The previous screen's type.
            transition_type: How the user got to the screen, e.g. ``"push"``.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    # ------------------------------------------------------------------ ecommerce

    @track_method(_table.ECOMMERCE_TRANSACTION_ITEM)
    def track_ecommerce_transaction_item(
        self,
        order_id: str,
        sku: str,
        price: float,
        quantity: int,
        name: Optional[str] = None,
        category: Optional[str] = None,
        currency: Optional[str] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track one line of an ecommerce transaction (``e=ti``).

        :meth:`track_ecommerce_transaction` sends these for its ``items``; use this method for
        an item tracked on its own.

        Args:
            order_id: The transaction's order id (``ti_id``), a non-empty string.
            sku: The item's SKU (``ti_sk``), a non-empty string.
            price: The item's price (``ti_pr``), a number.
            quantity: How many were bought (``ti_qu``), an integer.
            name: The item's name (``ti_nm``).
            category: The item's category (``ti_ca``).
            currency: The currency of the price (``ti_cu``).
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover

    @track_method(_table.ECOMMERCE_TRANSACTION)
    def track_ecommerce_transaction(
        self,
        order_id: str,
        total_value: float,
        affiliation: Optional[str] = None,
        tax_value: Optional[float] = None,
        shipping: Optional[float] = None,
        city: Optional[str] = None,
        state: Optional[str] = None,
        country: Optional[str] = None,
        currency: Optional[str] = None,
        items: Optional[Sequence[Mapping[str, Any]]] = None,
        context: Context = None,
        tstamp: Optional[float] = None,
        event_subject: Optional[Subject] = None,
    ) -> Tracker:
        """Track an ecommerce transaction (``e=tr``) and one ``e=ti`` event per item.

        Every event shares the order id, the transaction's currency, the device time ``dtm``
        and, when given, ``tstamp`` (``ttm``); unlike tracker 1.1.0, items get no ``ttm`` when
        ``tstamp`` is None. Every item is validated before any event is emitted, and the
        caller's item dicts are never modified. Each item event carries the transaction's
        ``context`` followed by the item's own ``"context"`` entities, if any.

        Args:
            order_id: The order id (``tr_id``), a non-empty string.
            total_value: The total value (``tr_tt``), a number.
            affiliation: The affiliation (``tr_af``).
            tax_value: The tax (``tr_tx``), a number.
            shipping: The delivery cost (``tr_sh``), a number.
            city: The delivery city (``tr_ci``).
            state: The delivery state (``tr_st``).
            country: The delivery country (``tr_co``).
            currency: The currency (``tr_cu``, and ``ti_cu`` of every item).
            items: The items, dicts with ``"sku"`` (non-empty string), ``"price"`` (number),
                ``"quantity"`` (integer) and optionally ``"name"``, ``"category"`` and
                ``"context"``. The keys ``"order_id"``, ``"currency"``, ``"tstamp"`` and
                ``"event_subject"`` are ignored: the transaction's values are used.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for these events.
        """
        raise AssertionError("replaced by the compiled builder")  # pragma: no cover


bind_overrides(Tracker)
