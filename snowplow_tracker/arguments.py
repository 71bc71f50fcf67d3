"""One vocabulary of argument rules, and the rules of constructor and configuration arguments.

:class:`Rule` is the one rule type: the configuration rules below, and the event arguments' rules
of :mod:`snowplow_tracker.events.description` from which the ``track_*`` checks are generated.
The configuration checks always run (whatever
:func:`~snowplow_tracker.protocol.contracts.disable_contracts` says: a misconfigured tracker is
a bug found once, not a per-event cost) and raise
:class:`~snowplow_tracker.errors.ConfigurationError` with the message form of the ``track_*``
checks, naming the place, the argument, the expectation and the value::

    Tracker: argument 'namespace' must be a string or None, got 1

The check functions take ``where`` (the class or method configured), ``arg`` (the argument's
name) and ``value`` (the value given), then their own options, and raise that error when the
value breaks the rule their docstring states.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, NoReturn, Optional, Tuple, Union

from .errors import ConfigurationError, ValidationError
from .protocol.checking import describe


def fail(
    where: str, arg: str, expected: str, value: Any, *, shown: Optional[str] = None
) -> NoReturn:
    """Raise the ConfigurationError for an invalid argument.

    Args:
        where: The class or method configured, e.g. ``"Tracker"``.
        expected: What the argument must be, e.g. ``"a string or None"``.
        shown: How to show the value instead of its ``repr`` (e.g. with a password masked).

    Raises:
        ConfigurationError: Always.
    """
    got = describe(value) if shown is None else shown
    raise ConfigurationError(f"{where}: argument '{arg}' must be {expected}, got {got}")


def refuse(where: str, reason: str) -> NoReturn:
    """Raise the ConfigurationError for arguments that are invalid together, not one by one.

    Args:
        reason: Which arguments conflict, and why.

    Raises:
        ConfigurationError: Always.
    """
    raise ConfigurationError(f"{where}: {reason}")


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an int and not a bool.

    Args:
        value: The value to test.
    """
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """An int (not a bool) or a float, that a float can hold (settings are used as floats)."""
    if isinstance(value, float):
        return True
    if not is_integer(value):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


@dataclass(frozen=True)
class Each:
    """The inline fast check of a container argument: its class, then a test of each item.

    Generated into a loop of the ``track_*`` code itself (no function call, no generator):
    when the value is not exactly of class ``container`` (or is empty while ``non_empty``), or
    an item fails ``item_ok``, the rule's ``check`` runs and raises the precise error (or
    accepts the value: a tuple, a ``str`` subclass...). So ``item_ok`` may refuse more than
    ``check`` does, never less, but for what orjson refuses when the call serialises the event
    data, which then runs the checks in full (see ``Rule.data_inline``): every container
    argument is written into event data.

    Attributes:
        container: The exact class of the value, e.g. ``"list"``.
        loop: The loop target and iterable, over ``{v}``, e.g. ``"_x in {v}"`` or
            ``"_k, _x in {v}.items()"``.
        item_ok: An expression true when the item surely passes, e.g. ``"_x.__class__ is str"``
            (it may use the generated code's names and assignment expressions on ``_f``).
        non_empty: Whether an empty container fails.
    """

    container: str
    loop: str
    item_ok: str
    non_empty: bool = False


class Rule:
    """One rule for an argument: what it must be, the check, and the inline fast check.

    A configuration rule has a predicate (``ok``); calling it raises
    :class:`~snowplow_tracker.errors.ConfigurationError` for a value that fails. An event
    argument's rule has a :mod:`~snowplow_tracker.protocol.contracts` function (``check``) that
    raises the precise :class:`~snowplow_tracker.errors.ValidationError`, and the inline
    expressions the ``track_*`` code is generated with (see
    ``tools/compiler.py``). Calling a rule checks one argument:
    ``rule(where, arg, value)``.

    Attributes:
        expected: What the argument must be, as the message says it (``"a positive integer"``).
        ok: Whether a value passes (given for configuration rules; for the others, whether
            ``check`` accepts it).
        optional: Whether None passes too (the message then ends ``or None``).
        check: The contracts function ``check(method, arg, value, **options)`` that raises the
            ValidationError for a required argument, or None.
        optional_check: The contracts function for an argument that may be None (None: guard
            ``check`` with ``is not None``).
        inline: A cheap Python expression over ``{v}``, true when the value surely passes;
            ``check`` runs only when it is false. None: always run ``check``. It may use the
            names of the generated code (``_isfinite``, ``_items_ok``...).
        data_inline: The inline expression for a value written into the event's data, when it
            can be cheaper than ``inline``: orjson serialises the data in the call and refuses
            what it cannot encode (a string with a lone surrogate, an int beyond 64 bits), and
            the call then runs every check of the data fields before anything else, so those
            need not be tested inline. None: ``inline``.
        each: For containers, the inline fast check of :class:`Each` (instead of ``inline``).
        options: Extra keyword arguments passed to ``check``.
        numeric: Whether values are numbers (the generated code writes them with ``str()``).
    """

    __slots__ = (
        "check",
        "data_inline",
        "each",
        "expected",
        "inline",
        "numeric",
        "ok",
        "optional",
        "optional_check",
        "options",
    )

    def __init__(
        self,
        expected: str,
        ok: Optional[Callable[[Any], bool]] = None,
        optional: bool = False,
        *,
        check: Optional[Callable[..., None]] = None,
        optional_check: Optional[Callable[..., None]] = None,
        inline: Optional[str] = None,
        data_inline: Optional[str] = None,
        each: Optional[Each] = None,
        options: Tuple[Tuple[str, Any], ...] = (),
        numeric: bool = False,
    ) -> None:
        self.expected = expected + (" or None" if optional else "")
        self.ok: Callable[[Any], bool] = ok if ok is not None else self._passes
        self.optional = optional
        self.check = check
        self.optional_check = optional_check
        self.inline = inline
        self.data_inline = data_inline
        self.each = each
        self.options = options
        self.numeric = numeric

    def __call__(self, where: str, arg: str, value: Any) -> None:
        """Check one argument.

        Args:
            where: The class or method, e.g. ``"Tracker"`` or ``"Tracker.track_page_view"``.

        Raises:
            ConfigurationError: The value breaks a configuration rule.
            ValidationError: The value breaks an event argument's rule.
        """
        if self.optional and value is None:
            return
        if self.check is not None:
            self.check(where, arg, value, **dict(self.options))
        elif not self.ok(value):
            fail(where, arg, self.expected, value)

    def _passes(self, value: Any) -> bool:
        try:
            self.checker(False)("", "", value, **dict(self.options))
        except ValidationError:
            return False
        return True

    def checker(self, optional: bool) -> Callable[..., None]:
        """The contracts function checking a value (``optional_check`` for an argument that may
        be None, when there is one).

        Args:
            optional: Whether the argument may be None.
        """
        fn = (self.optional_check or self.check) if optional else self.check
        assert fn is not None, f"rule {self.expected!r} has no check function"
        return fn

    def or_none(self) -> Rule:
        """The same rule, but None passes too."""
        return Rule(self.expected, self.ok, optional=True)


def is_positive_finite(value: Any) -> bool:
    """Whether ``value`` is a number (not a bool) greater than 0 and finite.

    Args:
        value: The value to test.
    """
    return _is_number(value) and 0 < value < math.inf


non_empty_string = Rule("a non-empty string", lambda v: isinstance(v, str) and v != "")
optional_non_empty_string = non_empty_string.or_none()
optional_string = Rule("a string", lambda v: isinstance(v, str)).or_none()
boolean = Rule("True or False", lambda v: isinstance(v, bool))
optional_callable = Rule("a callable", callable).or_none()
positive_integer = Rule("a positive integer", lambda v: is_integer(v) and v >= 1)
optional_positive_integer = positive_integer.or_none()
positive_seconds = Rule("a positive number of seconds", lambda v: _is_number(v) and v > 0)
optional_positive_seconds = positive_seconds.or_none()
non_negative_number = Rule("a number >= 0", lambda v: _is_number(v) and v >= 0)
emitter = Rule(
    "an emitter (an object with an 'input(payload)' method)",
    lambda v: callable(getattr(v, "input", None)),
)
#: Seconds that must also be finite (a timeout, a timer interval): ``inf`` is refused.
positive_finite_seconds = Rule("a positive number of seconds", is_positive_finite)


def _is_session(value: Any) -> bool:
    import requests  # here: this module stays importable without loading requests

    return isinstance(value, requests.Session)


#: The methods of :class:`~snowplow_tracker.delivery.event_store.EventStore`.
EVENT_STORE_METHODS = ("add_event", "get_events_batch", "cleanup", "size")


def _is_event_store(value: Any) -> bool:
    """What ``isinstance(value, EventStore)`` (a runtime-checkable Protocol) tests."""
    return all(getattr(value, name, None) is not None for name in EVENT_STORE_METHODS)


optional_session = Rule("a requests.Session", _is_session).or_none()
optional_event_store = Rule(
    "an EventStore (add_event, get_events_batch, cleanup, size)", _is_event_store
).or_none()


def _at_least(minimum: int) -> Rule:
    return Rule(f"an integer of at least {minimum}", lambda v: is_integer(v) and v >= minimum)


def count(where: str, arg: str, value: Any, minimum: int = 0) -> None:
    """Check that ``value`` is an int (not a bool) of at least ``minimum``."""
    _at_least(minimum)(where, arg, value)


def optional_count(where: str, arg: str, value: Any, minimum: int = 0) -> None:
    """Check that ``value`` is None or an int (not a bool) of at least ``minimum``."""
    _at_least(minimum).or_none()(where, arg, value)


def optional_instance(where: str, arg: str, value: Any, cls: type) -> None:
    """Check that ``value`` is an instance of ``cls`` or None."""
    Rule(f"a {cls.__name__}", lambda v: isinstance(v, cls)).or_none()(where, arg, value)


def optional_integer_between(where: str, arg: str, value: Any, low: int, high: int) -> None:
    """Check that ``value`` is None or an int (not a bool) from ``low`` to ``high``."""
    rule = Rule(f"an integer from {low} to {high}", lambda v: is_integer(v) and low <= v <= high)
    rule.or_none()(where, arg, value)


def number_between(where: str, arg: str, value: Any, low: float, high: float) -> None:
    """Check that ``value`` is a number (not a bool, not NaN) from ``low`` to ``high``."""
    rule = Rule(f"a number from {low:g} to {high:g}", lambda v: _is_number(v) and low <= v <= high)
    rule(where, arg, value)


def one_of(where: str, arg: str, value: Any, allowed: Any) -> None:
    """Check that ``value`` is one of ``allowed`` (listed in their order by the message)."""
    choices = tuple(allowed)
    Rule("one of " + ", ".join(repr(c) for c in choices), lambda v: v in choices)(where, arg, value)


def _is_tls_verify(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    return isinstance(path, str) and path != "" and os.path.exists(path)


#: ``verify``, in ``requests``' convention.
tls_verify_rule = Rule(
    "True, False, or the path of an existing CA bundle file or directory", _is_tls_verify
)


def tls_verify(where: str, arg: str, value: Any) -> Union[bool, str]:
    """Check a TLS ``verify`` argument (``requests``' convention) and return it as a bool or a
    path string.

    Args:
        value: True (the default CA bundle), False (no verification), or the path (a string or
            ``os.PathLike``) of a CA bundle file or directory that exists.
    """
    tls_verify_rule(where, arg, value)
    return value if isinstance(value, bool) else os.fspath(value)
