"""The Tracker: validates ``track_*`` arguments, builds each event's payload, hands it to emitters.

This is the part of the library that runs in the caller's hot path, so it is written to be cheap:

* argument checks run only while contracts are enabled (see :mod:`snowplow_tracker.contracts`),
  and the common case is tested inline before any helper is called;
* the constant fields (``tv``, ``tna``, ``aid``) are precomputed, and the subject's fields are
  a ready-made dict (:class:`~snowplow_tracker.subject.Subject`), copied with one ``dict.update``;
* the event id is a version-4 UUID built from :func:`random.getrandbits` rather than
  :func:`uuid.uuid4` (about 5 times cheaper: no ``os.urandom`` system call, no ``UUID`` object).
  The module-level generator of :mod:`random` is seeded from ``os.urandom`` and CPython reseeds
  it in every child after ``os.fork`` (``random`` registers ``os.register_at_fork``), so forked
  workers never repeat each other's ids. Event ids need to be unique, not unpredictable;
* JSON (contexts, self-describing events) is serialised once, by orjson.

The payload is a flat ``dict[str, str]``. **The same dict object is handed to every emitter**, so
an emitter must not modify it (copy it first if it needs to). Everything that can fail (argument
checks, JSON serialisation, every item of a transaction) happens before the first emitter is
called; an exception raised by an emitter's ``input`` propagates to the caller.
"""

from __future__ import annotations

import inspect
import time
from binascii import b2a_base64 as _b2a_base64
from math import isfinite as _isfinite
from random import getrandbits
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Union

from orjson import JSONEncodeError as _JSONEncodeError
from orjson import dumps as _dumps

from . import contracts as _contracts
from ._version import TRACKER_VERSION
from .constants import (
    ADD_TO_CART_SCHEMA,
    CHANGE_FORM_SCHEMA,
    CONTEXT_SCHEMA,
    DEFAULT_ENCODE_BASE64,
    LINK_CLICK_SCHEMA,
    MOBILE_SCREEN_VIEW_SCHEMA,
    REMOVE_FROM_CART_SCHEMA,
    SCREEN_VIEW_SCHEMA,
    SITE_SEARCH_SCHEMA,
    SUBMIT_FORM_SCHEMA,
    UNSTRUCT_EVENT_SCHEMA,
)
from .errors import ConfigurationError, ValidationError
from .payload import URLSAFE_TABLE, JsonEncoder, PayloadDict, add, encode_json, json_bytes, to_str
from .self_describing_json import SelfDescribingJson
from .subject import Subject

_time_ns = time.time_ns

# Version-4 UUID: clear the 4 version bits and the 2 variant bits, then set version 4, variant 10.
_UUID_KEEP = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID_SET = (0x4 << 76) | (0x2 << 62)

# Keys a transaction item may have. The last four are ignored (the transaction's values win):
# tracker 1.1.0 wrote them into the caller's item dicts, so such dicts must still be accepted.
_ITEM_KEYS = frozenset(
    {"sku", "price", "quantity", "name", "category", "context"}
    | {"order_id", "currency", "tstamp", "event_subject"}
)

Context = Optional[Sequence[SelfDescribingJson]]


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


def new_event_id() -> str:
    """Return a random version-4 UUID string, e.g. ``"0f8a0c9e-1b2c-4d3e-8f90-a1b2c3d4e5f6"``.

    Built from :func:`random.getrandbits` (122 random bits; the generator is reseeded by
    CPython in a child process after ``fork``); not suitable for secrets.
    """
    h = (getrandbits(128) & _UUID_KEEP | _UUID_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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


def _check_emitter(emitter: Any, where: str, arg: str) -> None:
    if not callable(getattr(emitter, "input", None)):
        raise ConfigurationError(
            f"{where}: argument '{arg}' must be an emitter (an object with an 'input(payload)' "
            f"method), got {_contracts.describe(emitter)}"
        )


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

    def __init__(
        self,
        emitters: Union[EmitterLike, Sequence[EmitterLike]],
        subject: Optional[Subject] = None,
        namespace: Optional[str] = None,
        app_id: Optional[str] = None,
        encode_base64: bool = DEFAULT_ENCODE_BASE64,
        json_encoder: Optional[JsonEncoder] = None,
    ) -> None:
        where = "Tracker"
        if isinstance(emitters, (list, tuple)):
            if not emitters:
                raise ConfigurationError(
                    f"{where}: argument 'emitters' must be an emitter or a non-empty list of "
                    "emitters, got []"
                )
            for i, emitter in enumerate(emitters):
                _check_emitter(emitter, where, f"emitters[{i}]")
            emitter_list: List[EmitterLike] = list(emitters)
        else:
            _check_emitter(emitters, where, "emitters")
            emitter_list = [emitters]  # type: ignore[list-item]
        if subject is not None and not isinstance(subject, Subject):
            raise ConfigurationError(
                f"{where}: argument 'subject' must be a Subject or None, "
                f"got {_contracts.describe(subject)}"
            )
        for arg, value in (("namespace", namespace), ("app_id", app_id)):
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(
                    f"{where}: argument '{arg}' must be a string or None, "
                    f"got {_contracts.describe(value)}"
                )
        if not isinstance(encode_base64, bool):
            raise ConfigurationError(
                f"{where}: argument 'encode_base64' must be True or False, "
                f"got {_contracts.describe(encode_base64)}"
            )
        if json_encoder is not None and not callable(json_encoder):
            raise ConfigurationError(
                f"{where}: argument 'json_encoder' must be a callable or None, "
                f"got {_contracts.describe(json_encoder)}"
            )
        #: The emitters every event is handed to, in order.
        self.emitters: List[EmitterLike] = emitter_list
        self._subject: Subject = subject if subject is not None else Subject()
        #: Whether JSON fields are sent base64-encoded (``ue_px``/``cx``) or plain.
        self.encode_base64: bool = encode_base64
        #: Custom JSON encoder (orjson's ``default``), or None.
        self.json_encoder: Optional[JsonEncoder] = json_encoder
        self._namespace = namespace
        self._app_id = app_id
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

    @property
    def app_id(self) -> Optional[str]:
        """The application id (``aid``)."""
        return self._app_id

    @property
    def standard_nv_pairs(self) -> PayloadDict:
        """The fields every event carries: ``tv`` and, when set, ``tna`` and ``aid``."""
        return dict(self._standard)

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
        _check_emitter(emitter, "Tracker.add_emitter", "emitter")
        self.emitters.append(emitter)
        return self

    def flush(self, is_async: bool = False) -> Tracker:
        """Ask every emitter to send what it has buffered.

        For each emitter with a ``flush`` attribute: ``emitter.flush(is_async=is_async)`` if its
        ``flush`` accepts that keyword, else ``emitter.flush()`` (custom emitters). Emitters
        without ``flush`` are skipped.

        Args:
            is_async: False to wait until buffered events are sent (or failed), True to start
                sending and return at once.
        """
        for emitter in self.emitters:
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
        """Return ``tstamp`` as an int, or the current time in milliseconds when it is None.

        Args:
            tstamp: A timestamp in milliseconds, or None.
        """
        if tstamp is not None:
            return int(tstamp)
        return _time_ns() // 1_000_000

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _check_common(method: str, context: Any, tstamp: Any, event_subject: Any) -> None:
        if context is not None:
            _contracts.list_of_self_describing_json(method, "context", context)
        if tstamp is not None:
            _contracts.timestamp(method, "tstamp", tstamp)
        if event_subject is not None and not isinstance(event_subject, Subject):
            _contracts.fail(method, "event_subject", "a Subject or None", event_subject)

    def _contexts(self, method: str, context: Sequence[SelfDescribingJson]) -> str:
        return encode_json(
            {"schema": CONTEXT_SCHEMA, "data": [c.to_json() for c in context]},
            self.encode_base64,
            self.json_encoder,
            method,
            "context",
        )

    def _complete(
        self,
        p: PayloadDict,
        ctx: Optional[str],
        tstamp: Any,
        event_subject: Optional[Subject],
        dtm: Optional[str] = None,
    ) -> PayloadDict:
        """Add contexts (already encoded), ttm, subject, eid, dtm and the constant fields."""
        if ctx is not None:
            p["cx" if self.encode_base64 else "co"] = ctx
        if tstamp is not None:
            p["ttm"] = str(int(tstamp))
        if event_subject is None:
            p.update(self._subject._pairs)
        else:
            p.update(event_subject.combine_subject(self._subject))
        p["eid"] = new_event_id()
        p["dtm"] = dtm if dtm is not None else str(_time_ns() // 1_000_000)
        p.update(self._standard)
        return p

    def _send(self, p: PayloadDict) -> None:
        for emitter in self.emitters:
            # Emitters of this library may offer a path that skips re-checking our own dicts.
            getattr(emitter, "_tracker_input", emitter.input)(p)

    def _track_sdj(
        self,
        method: str,
        event_json: SelfDescribingJson,
        context: Context,
        tstamp: Optional[float],
        event_subject: Optional[Subject],
    ) -> Tracker:
        """Encode and send a self-describing event whose arguments were already checked."""
        encode_base64 = self.encode_base64
        p: PayloadDict = {
            "e": "ue",
            ("ue_px" if encode_base64 else "ue_pr"): encode_json(
                {"schema": UNSTRUCT_EVENT_SCHEMA, "data": event_json.to_json()},
                encode_base64,
                self.json_encoder,
                method,
                "event_json",
            ),
        }
        ctx = self._contexts(method, context) if context else None
        self._send(self._complete(p, ctx, tstamp, event_subject))
        return self

    # ------------------------------------------------------------------ page events

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
        m = "Tracker.track_page_view"
        if _contracts._enabled:
            _contracts.non_empty_string(m, "page_url", page_url)
            _contracts.optional_string(m, "page_title", page_title)
            _contracts.optional_string(m, "referrer", referrer)
            self._check_common(m, context, tstamp, event_subject)
        p: PayloadDict = {"e": "pv"}
        add(p, "url", page_url)
        add(p, "page", page_title)
        add(p, "refr", referrer)
        ctx = self._contexts(m, context) if context else None
        self._send(self._complete(p, ctx, tstamp, event_subject))
        return self

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
        m = "Tracker.track_page_ping"
        if _contracts._enabled:
            _contracts.non_empty_string(m, "page_url", page_url)
            _contracts.optional_string(m, "page_title", page_title)
            _contracts.optional_string(m, "referrer", referrer)
            _contracts.optional_integer(m, "min_x", min_x)
            _contracts.optional_integer(m, "max_x", max_x)
            _contracts.optional_integer(m, "min_y", min_y)
            _contracts.optional_integer(m, "max_y", max_y)
            self._check_common(m, context, tstamp, event_subject)
        p: PayloadDict = {"e": "pp"}
        add(p, "url", page_url)
        add(p, "page", page_title)
        add(p, "refr", referrer)
        add(p, "pp_mix", min_x)
        add(p, "pp_max", max_x)
        add(p, "pp_miy", min_y)
        add(p, "pp_may", max_y)
        ctx = self._contexts(m, context) if context else None
        self._send(self._complete(p, ctx, tstamp, event_subject))
        return self

    # ------------------------------------------------------------------ structured event

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
        # The hot path: common cases are tested inline, helpers run only for the rest.
        if _contracts._enabled:
            m = "Tracker.track_struct_event"
            if category.__class__ is not str or not category:
                _contracts.non_empty_string(m, "category", category)
            if action.__class__ is not str or not action:
                _contracts.non_empty_string(m, "action", action)
            if label is not None and label.__class__ is not str:
                _contracts.optional_string(m, "label", label)
            if property_ is not None and property_.__class__ is not str:
                _contracts.optional_string(m, "property_", property_)
            if value is not None and not (
                value.__class__ is int or (value.__class__ is float and _isfinite(value))
            ):
                _contracts.optional_number(m, "value", value)
            if context is not None:
                if context.__class__ is not list or not context:
                    _contracts.list_of_self_describing_json(m, "context", context)
                for entity in context:
                    if entity.__class__ is not SelfDescribingJson:
                        _contracts.list_of_self_describing_json(m, "context", context)
            if tstamp is not None or event_subject is not None:
                self._check_common(m, None, tstamp, event_subject)
        p: PayloadDict = {"e": "se"}
        if category.__class__ is str and category:
            p["se_ca"] = category
        else:
            add(p, "se_ca", category)
        if action.__class__ is str and action:
            p["se_ac"] = action
        else:
            add(p, "se_ac", action)
        if label is not None:
            if label.__class__ is str and label:
                p["se_la"] = label
            else:
                add(p, "se_la", label)
        if property_ is not None:
            if property_.__class__ is str and property_:
                p["se_pr"] = property_
            else:
                add(p, "se_pr", property_)
        if value is not None:
            p["se_va"] = to_str(value)
        # What _contexts() and _complete() do, inlined: this method is the hot path.
        if context:
            envelope = {"schema": CONTEXT_SCHEMA, "data": [c.to_json() for c in context]}
            try:
                raw = _dumps(envelope, default=self.json_encoder)
            except _JSONEncodeError:  # non-str keys or unserialisable: the general path
                raw = json_bytes(
                    envelope, self.json_encoder, "Tracker.track_struct_event", "context"
                )
            if self.encode_base64:
                p["cx"] = _b2a_base64(raw, newline=False).translate(URLSAFE_TABLE).decode("ascii")
            else:
                p["co"] = raw.decode("utf-8")
        if tstamp is not None:
            p["ttm"] = str(int(tstamp))
        if event_subject is None:
            p.update(self._subject._pairs)
        else:
            p.update(event_subject.combine_subject(self._subject))
        h = (getrandbits(128) & _UUID_KEEP | _UUID_SET).to_bytes(16, "big").hex()
        p["eid"] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        p["dtm"] = str(_time_ns() // 1_000_000)
        p.update(self._standard)
        for emitter in self.emitters:
            # Emitters of this library may offer a path that skips re-checking our own dicts.
            getattr(emitter, "_tracker_input", emitter.input)(p)
        return self

    # ------------------------------------------------------------------ self-describing events

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
        m = "Tracker.track_self_describing_event"
        if _contracts._enabled:
            _contracts.self_describing_json(m, "event_json", event_json)
            self._check_common(m, context, tstamp, event_subject)
        return self._track_sdj(m, event_json, context, tstamp, event_subject)

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
        m = "Tracker.track_unstruct_event"
        if _contracts._enabled:
            _contracts.self_describing_json(m, "event_json", event_json)
            self._check_common(m, context, tstamp, event_subject)
        return self._track_sdj(m, event_json, context, tstamp, event_subject)

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
        m = "Tracker.track_link_click"
        if _contracts._enabled:
            _contracts.non_empty_string(m, "target_url", target_url)
            _contracts.optional_string(m, "element_id", element_id)
            _contracts.optional_list_of_strings(m, "element_classes", element_classes)
            _contracts.optional_string(m, "element_target", element_target)
            _contracts.optional_string(m, "element_content", element_content)
            self._check_common(m, context, tstamp, event_subject)
        data: Dict[str, Any] = {"targetUrl": target_url}
        if element_id is not None:
            data["elementId"] = element_id
        if element_classes is not None:
            data["elementClasses"] = element_classes
        if element_target is not None:
            data["elementTarget"] = element_target
        if element_content is not None:
            data["elementContent"] = element_content
        return self._track_sdj(
            m, SelfDescribingJson(LINK_CLICK_SCHEMA, data), context, tstamp, event_subject
        )

    def _track_cart(
        self,
        m: str,
        schema: str,
        sku: str,
        quantity: float,
        name: Optional[str],
        category: Optional[str],
        unit_price: Optional[float],
        currency: Optional[str],
        context: Context,
        tstamp: Optional[float],
        event_subject: Optional[Subject],
    ) -> Tracker:
        if _contracts._enabled:
            _contracts.non_empty_string(m, "sku", sku)
            _contracts.number(m, "quantity", quantity)
            _contracts.optional_string(m, "name", name)
            _contracts.optional_string(m, "category", category)
            _contracts.optional_number(m, "unit_price", unit_price)
            _contracts.optional_string(m, "currency", currency)
            self._check_common(m, context, tstamp, event_subject)
        data: Dict[str, Any] = {"sku": sku, "quantity": quantity}
        if name is not None:
            data["name"] = name
        if category is not None:
            data["category"] = category
        if unit_price is not None:
            data["unitPrice"] = unit_price
        if currency is not None:
            data["currency"] = currency
        return self._track_sdj(m, SelfDescribingJson(schema, data), context, tstamp, event_subject)

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
        return self._track_cart(
            "Tracker.track_add_to_cart",
            ADD_TO_CART_SCHEMA,
            sku,
            quantity,
            name,
            category,
            unit_price,
            currency,
            context,
            tstamp,
            event_subject,
        )

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
        return self._track_cart(
            "Tracker.track_remove_from_cart",
            REMOVE_FROM_CART_SCHEMA,
            sku,
            quantity,
            name,
            category,
            unit_price,
            currency,
            context,
            tstamp,
            event_subject,
        )

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
            form_id: The form's id attribute, a non-empty string.
            element_id: The field's id attribute, a string (required by the schema).
            node_name: The field's node name: ``"INPUT"``, ``"SELECT"`` or ``"TEXTAREA"``.
            value: The field's new value, a string or None.
            type_: The input type, e.g. ``"text"`` or ``"checkbox"`` (see
                :data:`~snowplow_tracker.constants.FORM_TYPES`).
            element_classes: The field's classes, a list of strings.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        m = "Tracker.track_form_change"
        if _contracts._enabled:
            _contracts.non_empty_string(m, "form_id", form_id)
            _contracts.string(m, "element_id", element_id)
            _contracts.form_node_name(m, "node_name", node_name)
            _contracts.optional_string(m, "value", value)
            if type_ is not None:
                _contracts.form_type(m, "type_", type_, ignore_case=True)
            _contracts.optional_list_of_strings(m, "element_classes", element_classes)
            self._check_common(m, context, tstamp, event_subject)
        data: Dict[str, Any] = {
            "formId": form_id,
            "elementId": element_id,
            "nodeName": node_name,
            "value": value,
        }
        if type_ is not None:
            data["type"] = type_.lower() if isinstance(type_, str) else type_
        if element_classes is not None:
            data["elementClasses"] = element_classes
        return self._track_sdj(
            m, SelfDescribingJson(CHANGE_FORM_SCHEMA, data), context, tstamp, event_subject
        )

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
            form_id: The form's id attribute, a non-empty string.
            form_classes: The form's classes, a list of strings.
            elements: The form's fields, each a dict with ``name`` (string), ``value`` (string
                or None), ``nodeName`` (``"INPUT"``, ``"SELECT"`` or ``"TEXTAREA"``) and
                optionally ``type`` (an input type); an empty list is not sent.
            context: Context entities, a non-empty list of SelfDescribingJson, or None.
            tstamp: The true timestamp in ms (``ttm``), a positive number, or None.
            event_subject: A Subject merged over the tracker's subject for this event.
        """
        m = "Tracker.track_form_submit"
        if _contracts._enabled:
            _contracts.non_empty_string(m, "form_id", form_id)
            _contracts.optional_list_of_strings(m, "form_classes", form_classes)
            if elements is not None:
                if not isinstance(elements, (list, tuple)):
                    _contracts.fail(m, "elements", "a list of dicts or None", elements)
                for i, element in enumerate(elements):
                    _contracts.form_element(m, f"elements[{i}]", element)
            self._check_common(m, context, tstamp, event_subject)
        data: Dict[str, Any] = {"formId": form_id}
        if form_classes is not None:
            data["formClasses"] = form_classes
        if elements:
            data["elements"] = elements
        return self._track_sdj(
            m, SelfDescribingJson(SUBMIT_FORM_SCHEMA, data), context, tstamp, event_subject
        )

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
        m = "Tracker.track_site_search"
        if _contracts._enabled:
            _contracts.list_of_strings(m, "terms", terms, non_empty=True)
            if filters is not None:
                if not isinstance(filters, dict):
                    _contracts.fail(
                        m, "filters", "a dict of strings to strings or booleans", filters
                    )
                for key, flt in filters.items():
                    if not isinstance(key, str) or not isinstance(flt, (str, bool)):
                        _contracts.fail(
                            m, f"filters[{key!r}]", "a string or a boolean (keyed by a string)", flt
                        )
            _contracts.optional_integer(m, "total_results", total_results, minimum=0)
            _contracts.optional_integer(m, "page_results", page_results, minimum=0)
            self._check_common(m, context, tstamp, event_subject)
        data: Dict[str, Any] = {"terms": terms}
        if filters is not None:
            data["filters"] = filters
        if total_results is not None:
            data["totalResults"] = total_results
        if page_results is not None:
            data["pageResults"] = page_results
        return self._track_sdj(
            m, SelfDescribingJson(SITE_SEARCH_SCHEMA, data), context, tstamp, event_subject
        )

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
        m = "Tracker.track_screen_view"
        if _contracts._enabled:
            if name is None and id_ is None:
                raise ValidationError(
                    f"{m}: argument 'name' or 'id_' must be given (at least one of them is "
                    "required), got name=None and id_=None"
                )
            _contracts.optional_non_empty_string(m, "name", name)
            _contracts.optional_string(m, "id_", id_)
            self._check_common(m, context, tstamp, event_subject)
        data: Dict[str, Any] = {}
        if name is not None:
            data["name"] = name
        if id_ is not None:
            data["id"] = id_
        return self._track_sdj(
            m, SelfDescribingJson(SCREEN_VIEW_SCHEMA, data), context, tstamp, event_subject
        )

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
        m = "Tracker.track_mobile_screen_view"
        if _contracts._enabled:
            _contracts.non_empty_string(m, "name", name)
            _contracts.optional_uuid_string(m, "id_", id_)
            _contracts.optional_string(m, "type", type)
            _contracts.optional_string(m, "previous_name", previous_name)
            _contracts.optional_uuid_string(m, "previous_id", previous_id)
            _contracts.optional_string(m, "previous_type", previous_type)
            _contracts.optional_string(m, "transition_type", transition_type)
            self._check_common(m, context, tstamp, event_subject)
        data: Dict[str, Any] = {"id": id_ if id_ is not None else new_event_id(), "name": name}
        for key, val in (
            ("type", type),
            ("previousName", previous_name),
            ("previousId", previous_id),
            ("previousType", previous_type),
            ("transitionType", transition_type),
        ):
            if val is not None:
                data[key] = val
        return self._track_sdj(
            m, SelfDescribingJson(MOBILE_SCREEN_VIEW_SCHEMA, data), context, tstamp, event_subject
        )

    # ------------------------------------------------------------------ ecommerce

    @staticmethod
    def _check_item(m: str, where: str, item: Any) -> None:
        if not isinstance(item, Mapping):
            _contracts.fail(m, where, "a dict with 'sku', 'price' and 'quantity'", item)
        unknown = sorted(str(k) for k in item if k not in _ITEM_KEYS)
        if unknown:
            _contracts.fail(
                m,
                where,
                "a dict with keys among 'sku', 'price', 'quantity', 'name', 'category', "
                f"'context' (unexpected {', '.join(repr(k) for k in unknown)})",
                item,
            )
        _contracts.non_empty_string(m, f"{where}['sku']", item.get("sku"))
        _contracts.number(m, f"{where}['price']", item.get("price"))
        _contracts.integer(m, f"{where}['quantity']", item.get("quantity"))
        _contracts.optional_string(m, f"{where}['name']", item.get("name"))
        _contracts.optional_string(m, f"{where}['category']", item.get("category"))
        _contracts.optional_list_of_self_describing_json(
            m, f"{where}['context']", item.get("context")
        )

    @staticmethod
    def _item_payload(
        order_id: Any,
        sku: Any,
        price: Any,
        quantity: Any,
        name: Any,
        category: Any,
        currency: Any,
    ) -> PayloadDict:
        p: PayloadDict = {"e": "ti"}
        add(p, "ti_id", order_id)
        add(p, "ti_sk", sku)
        add(p, "ti_nm", name)
        add(p, "ti_ca", category)
        add(p, "ti_pr", price)
        add(p, "ti_qu", quantity)
        add(p, "ti_cu", currency)
        return p

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
        m = "Tracker.track_ecommerce_transaction_item"
        if _contracts._enabled:
            _contracts.non_empty_string(m, "order_id", order_id)
            _contracts.non_empty_string(m, "sku", sku)
            _contracts.number(m, "price", price)
            _contracts.integer(m, "quantity", quantity)
            _contracts.optional_string(m, "name", name)
            _contracts.optional_string(m, "category", category)
            _contracts.optional_string(m, "currency", currency)
            self._check_common(m, context, tstamp, event_subject)
        p = self._item_payload(order_id, sku, price, quantity, name, category, currency)
        ctx = self._contexts(m, context) if context else None
        self._send(self._complete(p, ctx, tstamp, event_subject))
        return self

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
        m = "Tracker.track_ecommerce_transaction"
        if _contracts._enabled:
            _contracts.non_empty_string(m, "order_id", order_id)
            _contracts.number(m, "total_value", total_value)
            _contracts.optional_string(m, "affiliation", affiliation)
            _contracts.optional_number(m, "tax_value", tax_value)
            _contracts.optional_number(m, "shipping", shipping)
            _contracts.optional_string(m, "city", city)
            _contracts.optional_string(m, "state", state)
            _contracts.optional_string(m, "country", country)
            _contracts.optional_string(m, "currency", currency)
            if items is not None:
                if not isinstance(items, (list, tuple)):
                    _contracts.fail(m, "items", "a list of dicts or None", items)
                for i, item in enumerate(items):
                    self._check_item(m, f"items[{i}]", item)
            self._check_common(m, context, tstamp, event_subject)
        dtm = str(_time_ns() // 1_000_000)
        p: PayloadDict = {"e": "tr"}
        add(p, "tr_id", order_id)
        add(p, "tr_tt", total_value)
        add(p, "tr_af", affiliation)
        add(p, "tr_tx", tax_value)
        add(p, "tr_sh", shipping)
        add(p, "tr_ci", city)
        add(p, "tr_st", state)
        add(p, "tr_co", country)
        add(p, "tr_cu", currency)
        ctx = self._contexts(m, context) if context else None
        events = [self._complete(p, ctx, tstamp, event_subject, dtm)]
        for item in items or ():
            item_p = self._item_payload(
                order_id,
                item.get("sku"),
                item.get("price"),
                item.get("quantity"),
                item.get("name"),
                item.get("category"),
                currency,
            )
            item_context = item.get("context")
            if item_context:
                item_ctx: Optional[str] = self._contexts(m, [*(context or ()), *item_context])
            else:
                item_ctx = ctx
            events.append(self._complete(item_p, item_ctx, tstamp, event_subject, dtm))
        for event in events:
            self._send(event)
        return self
