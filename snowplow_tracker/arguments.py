"""One vocabulary for constructor and configuration arguments.

These checks always run (whatever :func:`~snowplow_tracker.protocol.contracts.disable_contracts`
says: a misconfigured tracker is a bug found once, not a per-event cost) and raise
:class:`~snowplow_tracker.errors.ConfigurationError` with the message form of the ``track_*``
checks, naming the place, the argument, the expectation and the value::

    Tracker: argument 'namespace' must be a string or None, got 1
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, NoReturn, Optional, Union

from .errors import ConfigurationError
from .protocol.checking import describe


def fail(
    where: str, arg: str, expected: str, value: Any, *, shown: Optional[str] = None
) -> NoReturn:
    """Raise the ConfigurationError for an invalid argument.

    Args:
        where: The class or method configured, e.g. ``"Tracker"``.
        arg: The argument's name.
        expected: What the argument must be, e.g. ``"a string or None"``.
        value: The value given.
        shown: How to show the value instead of its ``repr`` (e.g. with a password masked).

    Raises:
        ConfigurationError: Always.
    """
    got = describe(value) if shown is None else shown
    raise ConfigurationError(f"{where}: argument '{arg}' must be {expected}, got {got}")


def refuse(where: str, reason: str) -> NoReturn:
    """Raise the ConfigurationError for arguments that are invalid together, not one by one.

    Args:
        where: The class or method configured.
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
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Rule:
    """One rule for an argument, as data: what it must be, and the test a value must pass.

    Calling the rule checks an argument: ``rule(where, arg, value)``.

    Attributes:
        expected: What the argument must be, as the message says it (``"a positive integer"``).
        ok: Whether a value passes.
        optional: Whether None passes too (the message then ends ``or None``).
    """

    __slots__ = ("expected", "ok", "optional")

    def __init__(self, expected: str, ok: Callable[[Any], bool], optional: bool = False) -> None:
        self.expected = expected + (" or None" if optional else "")
        self.ok = ok
        self.optional = optional

    def __call__(self, where: str, arg: str, value: Any) -> None:
        """Check one argument.

        Args:
            where: The class or method configured.
            arg: The argument's name.
            value: The value given.

        Raises:
            ConfigurationError: The value breaks the rule.
        """
        if not (self.optional and value is None) and not self.ok(value):
            fail(where, arg, self.expected, value)

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
    """Check that ``value`` is an int (not a bool) of at least ``minimum``.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.
        minimum: The smallest allowed value.

    Raises:
        ConfigurationError: It is not.
    """
    _at_least(minimum)(where, arg, value)


def optional_count(where: str, arg: str, value: Any, minimum: int = 0) -> None:
    """Check that ``value`` is None or an int (not a bool) of at least ``minimum``.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.
        minimum: The smallest allowed value.

    Raises:
        ConfigurationError: It is not.
    """
    _at_least(minimum).or_none()(where, arg, value)


def optional_instance(where: str, arg: str, value: Any, cls: type) -> None:
    """Check that ``value`` is an instance of ``cls`` or None.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.
        cls: The required class.

    Raises:
        ConfigurationError: It is not.
    """
    Rule(f"a {cls.__name__}", lambda v: isinstance(v, cls)).or_none()(where, arg, value)


def optional_integer_between(where: str, arg: str, value: Any, low: int, high: int) -> None:
    """Check that ``value`` is None or an int (not a bool) from ``low`` to ``high``.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.
        low: The smallest allowed value.
        high: The largest allowed value.

    Raises:
        ConfigurationError: It is not.
    """
    rule = Rule(f"an integer from {low} to {high}", lambda v: is_integer(v) and low <= v <= high)
    rule.or_none()(where, arg, value)


def number_between(where: str, arg: str, value: Any, low: float, high: float) -> None:
    """Check that ``value`` is a number (not a bool, not NaN) from ``low`` to ``high``.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.
        low: The smallest allowed value.
        high: The largest allowed value.

    Raises:
        ConfigurationError: It is not.
    """
    rule = Rule(f"a number from {low:g} to {high:g}", lambda v: _is_number(v) and low <= v <= high)
    rule(where, arg, value)


def one_of(where: str, arg: str, value: Any, allowed: Any) -> None:
    """Check that ``value`` is one of ``allowed``.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.
        allowed: The allowed values, in the order the message lists them.

    Raises:
        ConfigurationError: It is not.
    """
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
        where: The class or method configured.
        arg: The argument's name.
        value: True (the default CA bundle), False (no verification), or the path (a string or
            ``os.PathLike``) of a CA bundle file or directory that exists.

    Raises:
        ConfigurationError: It is none of these.
    """
    tls_verify_rule(where, arg, value)
    return value if isinstance(value, bool) else os.fspath(value)
