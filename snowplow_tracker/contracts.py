"""snowplow-tracker 1.x's ``contracts`` module: this library's contracts, and 1.x's helpers.

Everything of :mod:`snowplow_tracker.protocol.contracts`, plus the helpers of 1.x's module. Each
helper accepts both forms: the 1.x one (``non_empty_string(value)``: checks only while contracts
are enabled) and this library's (``non_empty_string(method, arg, value)``: always checks; callers
test the flag).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sized, overload

from .protocol import checking
from .protocol import contracts as _contracts
from .protocol.contracts import *  # noqa: F403 - this library's contracts, under 1.x's name

_WHERE_1X = "contracts"


@overload  # type: ignore[no-redef]  # replaces the three-argument form of the star import
def non_empty_string(value: Any, /) -> None: ...
@overload
def non_empty_string(
    method: str, arg: str, value: Any, /, *, max_length: Optional[int] = None
) -> None: ...
def non_empty_string(*args: Any, max_length: Optional[int] = None) -> None:
    """Check that a value is a non-empty string of Unicode text (no lone surrogate).

    Args:
        *args: ``(value)`` (1.x form) or ``(method, arg, value)``.
        max_length: Most characters allowed (this library's form only), or None.

    Raises:
        ValidationError: The value is not such a string.
    """
    if len(args) == 1:
        if checking.enabled:
            _contracts.non_empty_string(f"{_WHERE_1X}.non_empty_string", "value", args[0])
        return
    method, arg, value = args
    _contracts.non_empty_string(method, arg, value, max_length)


@overload  # type: ignore[no-redef]
def one_of(value: Any, supported: Iterable[Any], /) -> None: ...
@overload
def one_of(method: str, arg: str, value: Any, allowed: Iterable[Any], /) -> None: ...
def one_of(*args: Any) -> None:
    """Check that a value is one of the allowed values.

    Args:
        *args: ``(value, supported)`` (1.x form) or ``(method, arg, value, allowed)``.

    Raises:
        ValidationError: The value is not allowed.
    """
    if len(args) == 2:
        value, supported = args
        if checking.enabled and value not in supported:
            _contracts.fail(
                f"{_WHERE_1X}.one_of", "value", f"one of {sorted(map(str, supported))}", value
            )
        return
    _contracts.one_of(*args)


@overload  # type: ignore[no-redef]
def form_element(element: Any, /) -> None: ...
@overload
def form_element(method: str, arg: str, value: Any, /) -> None: ...
def form_element(*args: Any) -> None:
    """Check one form element dict (see :func:`~snowplow_tracker.protocol.contracts.form_elements`).

    Args:
        *args: ``(element)`` (1.x form) or ``(method, arg, element)``.

    Raises:
        ValidationError: The element is invalid.
    """
    if len(args) == 1:
        if checking.enabled:
            _contracts.form_element(f"{_WHERE_1X}.form_element", "element", args[0])
        return
    _contracts.form_element(*args)


def greater_than(value: float, compared_to: float) -> None:
    """Check that ``value > compared_to`` while contracts are enabled (1.x helper).

    Args:
        value: The value given.
        compared_to: The bound it must exceed.

    Raises:
        ValidationError: It does not.
    """
    if checking.enabled and not value > compared_to:
        _contracts.fail(
            f"{_WHERE_1X}.greater_than", "value", f"greater than {compared_to!r}", value
        )


def non_empty(seq: Sized) -> None:
    """Check that ``seq`` is not empty while contracts are enabled (1.x helper).

    Args:
        seq: A sized collection.

    Raises:
        ValidationError: It is empty.
    """
    if checking.enabled and len(seq) == 0:
        _contracts.fail(f"{_WHERE_1X}.non_empty", "seq", "non-empty", seq)


def satisfies(value: Any, check: Callable[[Any], bool]) -> None:
    """Check that ``check(value)`` is true while contracts are enabled (1.x helper).

    Args:
        value: The value given.
        check: The predicate.

    Raises:
        ValidationError: It is false.
    """
    if checking.enabled and not check(value):
        _contracts.fail(f"{_WHERE_1X}.satisfies", "value", "accepted by the check", value)
