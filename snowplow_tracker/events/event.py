"""``Event``, the base of snowplow-tracker 1.x's event classes, built on the same descriptions as
``track_*``.

The classes of the event kinds are generated from the table, at the end of
:mod:`snowplow_tracker.events.track_methods`: ``tracker.track(PageView(...))`` sends exactly the
payload ``tracker.track_page_view(...)`` sends, both built by the function generated from
:data:`snowplow_tracker.events.table.PAGE_VIEW`. Setting an argument property checks it against
the description's rule (while contracts are enabled); tracking checks every argument again, so an
event whose attributes were changed after construction is still validated before anything is
queued.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Dict, List, Mapping, Optional

from ..errors import EncodingError, ValidationError
from ..protocol import checking
from ..protocol.checking import fail
from ..protocol.contracts import TEXT_EXPECTED, is_text
from ..protocol.payload import JsonEncoder, Payload, add
from ..protocol.self_describing_json import SelfDescribingJson
from ..subject import Subject
from . import table
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
    _track: ClassVar[Any] = None  # track_event, set by the generated module
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

    def __init_subclass__(
        cls, kind: Optional[Kind] = None, track: Optional[Callable[..., Any]] = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if kind is None or track is None:
            return
        cls._kind = kind
        cls._track = staticmethod(track)
        cls._where = cls.__name__
        for f in kind.fields:
            setattr(cls, f.arg, Argument(f, cls.__name__))

    def _assign(self, values: Dict[str, Any]) -> None:
        """Initialise the event from ``values`` (a subclass constructor's ``locals()``): the common
        arguments, then every described argument."""
        common = (values["event_subject"], values["context"], values["true_timestamp"])
        Event.__init__(self, None, *common)
        for name in self._kind.args:
            setattr(self, name, values[name])

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
        kind = self._kind
        args = [self.__dict__[a] for a in kind.args]
        builder = EventBuilder(encode_base64, json_encoder, subject)
        try:
            self._track(
                builder, *args, self.context or None, self.true_timestamp, self.event_subject
            )
        except (ValidationError, EncodingError) as exc:
            # The generated function names the track_* method: name the class, and the class's
            # timestamp argument.
            tstamp = f"{kind.method}: argument 'tstamp'"
            text = str(exc).replace(tstamp, f"{self._where}: argument 'true_timestamp'", 1)
            raise type(exc)(text.replace(kind.method, self._where, 1)) from exc.__cause__
        pairs = builder.payload
        del pairs["eid"], pairs["dtm"]
        payload = Payload()
        payload.nv_pairs = {**self.payload.nv_pairs, **pairs}
        return payload
