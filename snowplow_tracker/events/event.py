"""The event classes of snowplow-tracker 1.x, built on the same descriptions as ``track_*``.

``tracker.track(PageView(...))`` sends exactly the payload ``tracker.track_page_view(...)`` sends:
both run code generated from :data:`snowplow_tracker.events.table.PAGE_VIEW`. Setting an argument
property checks it against the description's rule (while contracts are enabled); tracking checks
every argument again, so an event whose attributes were changed after construction is still
validated before anything is queued.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple, Union

from ..protocol import checking
from ..protocol.checking import fail
from ..protocol.contracts import TEXT_EXPECTED, is_text
from ..protocol.payload import JsonEncoder, Payload, add
from ..protocol.self_describing_json import SelfDescribingJson
from ..subject import Subject
from . import table, track_methods
from .description import Field, Kind
from .runtime import EventBuilder, check_argument, check_common


class Argument:
    """A property for one described argument: setting it checks the field's rule.

    Args:
        field: The argument's field in the event description.
        where: The class name used in error messages.
    """

    def __init__(self, field: Field, where: str) -> None:
        self.field = field
        self.where = where
        self.__doc__ = f"The ``{field.arg}`` argument: {field.rule.expected}" + (
            " or None." if field.optional else "."
        )

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__[self.field.arg]

    def __set__(self, obj: Any, value: Any) -> None:
        if checking.enabled:
            check_argument(self.where, self.field, value)
        obj.__dict__[self.field.arg] = value


class Event:
    """An event as an object (the snowplow-tracker 1.x API); track it with ``Tracker.track``.

    The base class sends only the fields given in ``dict_`` (no ``e``); use the subclasses for
    the event kinds.

    Args:
        dict_: Fields added to the payload (None and ``""`` values skipped, others as ``str``).
        event_subject: A Subject merged over the tracker's subject for this event.
        context: Context entities, a list of SelfDescribingJson (an empty list sends none).
        true_timestamp: The true timestamp in ms (``ttm``), a positive number, or None.

    Raises:
        ValidationError: ``dict_`` is not a mapping or ``context`` not a list (always checked);
            while contracts are enabled, also: a field name that is not a non-empty string, a
            value whose string is no Unicode text, an entity that is no SelfDescribingJson, an
            invalid ``true_timestamp`` or ``event_subject`` (the subclasses check their own
            arguments as well).
    """

    _kind: ClassVar[Kind] = table.BARE_EVENT
    #: The generated function building the payload (see :class:`.runtime.EventBuilder`).
    _track: ClassVar[Any] = staticmethod(track_methods.track_event)
    #: The class named in error messages: the one of the event kind.
    _where: ClassVar[str] = "Event"

    def __init__(
        self,
        dict_: Optional[Any] = None,
        event_subject: Optional[Subject] = None,
        context: Optional[List[SelfDescribingJson]] = None,
        true_timestamp: Optional[float] = None,
    ) -> None:
        where = type(self).__name__
        if dict_ is not None and not isinstance(dict_, Mapping):
            fail(where, "dict_", "a dict of payload field names to values, or None", dict_)
        if context is not None and not isinstance(context, (list, tuple)):
            fail(where, "context", "a list of SelfDescribingJson, or None", context)
        if checking.enabled:
            if dict_ is not None:
                for key in dict_:
                    if key.__class__ is not str or not key or not is_text(key):
                        fail(where, "dict_", "a dict keyed by non-empty strings", dict_)
            for i, entity in enumerate(context or ()):
                if not isinstance(entity, SelfDescribingJson):
                    fail(where, f"context[{i}]", "a SelfDescribingJson", entity)
            if true_timestamp is not None or event_subject is not None:
                check_common(where, true_timestamp, event_subject, "true_timestamp")
        #: Fields given as ``dict_`` (1.x's ``payload``), sent before the described ones.
        self.payload = Payload()
        if dict_ is not None:
            self._add_fields(where, dict_)
        #: A Subject merged over the tracker's subject for this event, or None.
        self.event_subject: Optional[Subject] = event_subject
        #: Context entities (an empty list sends none).
        self.context: List[SelfDescribingJson] = list(context or [])
        #: The true timestamp in ms (``ttm``), or None.
        self.true_timestamp: Optional[float] = true_timestamp

    def _add_fields(self, where: str, dict_: Mapping[str, Any]) -> None:
        """Add ``dict_`` to :attr:`payload` (values as strings; None and ``""`` skipped).

        Raises:
            ValidationError: A value cannot be written as a string of Unicode text.
        """
        pairs = self.payload.nv_pairs
        for key, value in dict_.items():
            try:
                add(pairs, key, value)
            except Exception:  # noqa: BLE001 - a __str__ that raises, an int of 5000 digits
                fail(where, f"dict_[{key!r}]", "a value that str() turns into a string", value)
            text = pairs.get(key)
            if checking.enabled and text is not None and not is_text(text):
                fail(where, f"dict_[{key!r}]", TEXT_EXPECTED, value)

    def __init_subclass__(cls, kind: Optional[Kind] = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind is None:
            return
        cls._kind = kind
        cls._track = staticmethod(getattr(track_methods, f"track_{kind.name}"))
        cls._where = cls.__name__
        for f in kind.fields:
            setattr(cls, f.arg, Argument(f, cls.__name__))

    def _assign(self, values: Dict[str, Any]) -> None:
        """Set every described argument from ``values`` (a constructor's ``locals()``)."""
        for name in self._kind.args:
            setattr(self, name, values[name])

    def _arguments(self) -> Tuple[Any, ...]:
        return tuple(self.__dict__[a] for a in self._kind.args)

    def build_payload(
        self,
        encode_base64: bool,
        json_encoder: Optional[JsonEncoder],
        subject: Optional[Subject] = None,
    ) -> Payload:
        """Check the event and return its payload, without ``eid``, ``dtm`` and ``tv``.

        Args:
            encode_base64: Whether JSON fields are sent as base64 (``ue_px``/``cx``).
            json_encoder: Called by orjson for objects it cannot serialise.
            subject: The tracker's subject, merged under the event's subject.

        Raises:
            ValidationError: An argument breaks its contract.
            EncodingError: The event's JSON cannot be serialised.
        """
        builder = EventBuilder(encode_base64, json_encoder, subject)
        common = (self.context or None, self.true_timestamp, self.event_subject)
        pairs = builder.build(self._where, self._kind, self._track, self._arguments(), common)
        payload = Payload()
        payload.nv_pairs = {**self.payload.nv_pairs, **pairs}
        return payload


class PageView(Event, kind=table.PAGE_VIEW):
    """A page view (``e=pv``), as ``Tracker.track_page_view`` sends it.

    Args:
        page_url: The page URL (``url``), a non-empty string.
        page_title: The page title (``page``).
        referrer: The referrer URL (``refr``).
        event_subject: A Subject merged over the tracker's subject for this event.
        context: Context entities, a list of SelfDescribingJson.
        true_timestamp: The true timestamp in ms (``ttm``), a positive number, or None.
    """

    page_url: Any
    page_title: Any
    referrer: Any

    def __init__(
        self,
        page_url: str,
        page_title: Optional[str] = None,
        referrer: Optional[str] = None,
        event_subject: Optional[Subject] = None,
        context: Optional[List[SelfDescribingJson]] = None,
        true_timestamp: Optional[float] = None,
    ) -> None:
        super().__init__(
            event_subject=event_subject, context=context, true_timestamp=true_timestamp
        )
        self._assign(locals())


class PagePing(Event, kind=table.PAGE_PING):
    """A page ping (``e=pp``), as ``Tracker.track_page_ping`` sends it.

    Args:
        page_url: The page URL (``url``), a non-empty string.
        page_title: The page title (``page``).
        referrer: The referrer URL (``refr``).
        min_x: Minimum horizontal scroll offset (``pp_mix``), an int.
        max_x: Maximum horizontal scroll offset (``pp_max``), an int.
        min_y: Minimum vertical scroll offset (``pp_miy``), an int.
        max_y: Maximum vertical scroll offset (``pp_may``), an int.
        event_subject: A Subject merged over the tracker's subject for this event.
        context: Context entities, a list of SelfDescribingJson.
        true_timestamp: The true timestamp in ms (``ttm``), a positive number, or None.
    """

    page_url: Any
    page_title: Any
    referrer: Any
    min_x: Any
    max_x: Any
    min_y: Any
    max_y: Any

    def __init__(
        self,
        page_url: str,
        page_title: Optional[str] = None,
        referrer: Optional[str] = None,
        min_x: Optional[int] = None,
        max_x: Optional[int] = None,
        min_y: Optional[int] = None,
        max_y: Optional[int] = None,
        event_subject: Optional[Subject] = None,
        context: Optional[List[SelfDescribingJson]] = None,
        true_timestamp: Optional[float] = None,
    ) -> None:
        super().__init__(
            event_subject=event_subject, context=context, true_timestamp=true_timestamp
        )
        self._assign(locals())


class StructuredEvent(Event, kind=table.STRUCT_EVENT):
    """A structured event (``e=se``), as ``Tracker.track_struct_event`` sends it.

    Args:
        category: The group of events (``se_ca``), a non-empty string.
        action: The kind of interaction (``se_ac``), a non-empty string.
        label: Extra information (``se_la``).
        property_: The object or property acted upon (``se_pr``).
        value: A finite number (``se_va``).
        event_subject: A Subject merged over the tracker's subject for this event.
        context: Context entities, a list of SelfDescribingJson.
        true_timestamp: The true timestamp in ms (``ttm``), a positive number, or None.
    """

    category: Any
    action: Any
    label: Any
    property_: Any
    value: Any

    def __init__(
        self,
        category: str,
        action: str,
        label: Optional[str] = None,
        property_: Optional[str] = None,
        value: Optional[Union[int, float]] = None,
        event_subject: Optional[Subject] = None,
        context: Optional[List[SelfDescribingJson]] = None,
        true_timestamp: Optional[float] = None,
    ) -> None:
        super().__init__(
            event_subject=event_subject, context=context, true_timestamp=true_timestamp
        )
        self._assign(locals())


class SelfDescribing(Event, kind=table.SELF_DESCRIBING_EVENT):
    """A self-describing event (``e=ue``), as ``Tracker.track_self_describing_event`` sends it.

    Args:
        event_json: The event, a SelfDescribingJson (schema URI and data).
        event_subject: A Subject merged over the tracker's subject for this event.
        context: Context entities, a list of SelfDescribingJson.
        true_timestamp: The true timestamp in ms (``ttm``), a positive number, or None.
    """

    event_json: Any

    def __init__(
        self,
        event_json: SelfDescribingJson,
        event_subject: Optional[Subject] = None,
        context: Optional[List[SelfDescribingJson]] = None,
        true_timestamp: Optional[float] = None,
    ) -> None:
        super().__init__(
            event_subject=event_subject, context=context, true_timestamp=true_timestamp
        )
        self._assign(locals())


class ScreenView(Event, kind=table.MOBILE_SCREEN_VIEW):
    """A mobile screen view, as ``Tracker.track_mobile_screen_view`` sends it (1.x order).

    Args:
        id_: The screen view's id, a UUID string (a new one when None).
        name: The screen's name, a non-empty string.
        type: The kind of screen, e.g. ``"feed"``.
        previous_name: The previous screen's name.
        previous_id: The previous screen view's id, a UUID string.
        previous_type: The previous screen's type.
        transition_type: How the user got to the screen, e.g. ``"push"``.
        event_subject: A Subject merged over the tracker's subject for this event.
        context: Context entities, a list of SelfDescribingJson.
        true_timestamp: The true timestamp in ms (``ttm``), a positive number, or None.
    """

    id_: Any
    name: Any
    type: Any
    previous_name: Any
    previous_id: Any
    previous_type: Any
    transition_type: Any

    def __init__(
        self,
        id_: Optional[str],
        name: str,
        type: Optional[str] = None,
        previous_name: Optional[str] = None,
        previous_id: Optional[str] = None,
        previous_type: Optional[str] = None,
        transition_type: Optional[str] = None,
        event_subject: Optional[Subject] = None,
        context: Optional[List[SelfDescribingJson]] = None,
        true_timestamp: Optional[float] = None,
    ) -> None:
        super().__init__(
            event_subject=event_subject, context=context, true_timestamp=true_timestamp
        )
        self._assign(locals())
