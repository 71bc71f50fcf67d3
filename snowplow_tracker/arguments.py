"""One vocabulary for constructor and configuration arguments.

These checks always run (whatever :func:`~snowplow_tracker.contracts.disable_contracts` says:
a misconfigured tracker is a bug found once, not a per-event cost) and raise
:class:`~snowplow_tracker.errors.ConfigurationError` with the message form of the ``track_*``
checks, naming the place, the argument, the expectation and the value::

    Tracker: argument 'namespace' must be a string or None, got 1
"""

from __future__ import annotations

import math
from typing import Any, NoReturn, Optional

from .contracts import describe
from .errors import ConfigurationError


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


def optional_string(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a string or None.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if value is not None and not isinstance(value, str):
        fail(where, arg, "a string or None", value)


def non_empty_string(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a non-empty string.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if not isinstance(value, str) or not value:
        fail(where, arg, "a non-empty string", value)


def optional_non_empty_string(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a non-empty string or None.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if value is not None and (not isinstance(value, str) or not value):
        fail(where, arg, "a non-empty string or None", value)


def boolean(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is True or False.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if not isinstance(value, bool):
        fail(where, arg, "True or False", value)


def optional_callable(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is callable or None.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if value is not None and not callable(value):
        fail(where, arg, "a callable or None", value)


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
    if value is not None and not isinstance(value, cls):
        fail(where, arg, f"a {cls.__name__} or None", value)


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
    if not is_integer(value) or value < minimum:
        fail(where, arg, f"an integer of at least {minimum}", value)


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
    if value is not None and (not is_integer(value) or value < minimum):
        fail(where, arg, f"an integer of at least {minimum} or None", value)


def positive_integer(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is an int (not a bool) greater than 0.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if not is_integer(value) or value < 1:
        fail(where, arg, "a positive integer", value)


def optional_positive_integer(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is None or an int (not a bool) greater than 0.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if value is not None and (not is_integer(value) or value < 1):
        fail(where, arg, "a positive integer or None", value)


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
    if value is not None and (not is_integer(value) or not low <= value <= high):
        fail(where, arg, f"an integer from {low} to {high}", value)


def positive_seconds(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a number (not a bool) of seconds greater than 0.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if not _is_number(value) or not value > 0:
        fail(where, arg, "a positive number of seconds", value)


def optional_positive_seconds(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is None or a number (not a bool) of seconds greater than 0.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if value is not None and (not _is_number(value) or not value > 0):
        fail(where, arg, "a positive number of seconds or None", value)


def non_negative_number(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is a number (not a bool, not NaN) of at least 0.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if not _is_number(value) or not value >= 0:
        fail(where, arg, "a number >= 0", value)


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
    if not _is_number(value) or not low <= value <= high:
        fail(where, arg, f"a number from {low:g} to {high:g}", value)


def is_positive_finite(value: Any) -> bool:
    """Whether ``value`` is a number (not a bool) greater than 0 and finite.

    Args:
        value: The value to test.
    """
    return _is_number(value) and 0 < value < math.inf


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
    if value not in choices:
        fail(where, arg, "one of " + ", ".join(repr(c) for c in choices), value)


def emitter(where: str, arg: str, value: Any) -> None:
    """Check that ``value`` is an emitter: an object with an ``input(payload)`` method.

    Args:
        where: The class or method configured.
        arg: The argument's name.
        value: The value given.

    Raises:
        ConfigurationError: It is not.
    """
    if not callable(getattr(value, "input", None)):
        fail(where, arg, "an emitter (an object with an 'input(payload)' method)", value)
