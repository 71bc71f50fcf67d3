"""The switch for argument checks and the message form of their errors.

``enabled`` is the one piece of module state: whether the ``track_*``, ``Subject`` and
``SelfDescribingJson`` checks run. :func:`~snowplow_tracker.contracts.disable_contracts` clears
it; hot paths read ``checking.enabled`` once per call and skip their checks when it is False.
The rules themselves are in :mod:`~snowplow_tracker.protocol.contracts`; this module imports
nothing of the package but the error class, so that any module can check its arguments.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ..errors import ValidationError

#: Whether argument checks run (default True). Set it through ``enable_contracts`` and
#: ``disable_contracts``.
enabled = True

_MAX_REPR = 200


def describe(value: Any) -> str:
    """Return a short ``repr`` of ``value`` for an error message (at most about 200 characters).

    Args:
        value: The value an argument was given.
    """
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the validation error
        if isinstance(value, int):  # more digits than int -> str conversion allows
            text = f"<{type(value).__name__} of {value.bit_length()} bits>"
        else:
            text = f"<{type(value).__name__} object>"
    if len(text) > _MAX_REPR:
        text = text[:_MAX_REPR] + "..."
    return text


def fail(method: str, arg: str, expected: str, value: Any) -> NoReturn:
    """Raise the :class:`ValidationError` for a broken contract.

    Args:
        method: Qualified name of the method called, e.g. ``"Tracker.track_page_view"``.
        arg: Name of the argument (or a path into it, such as ``"items[0]['sku']"``).
        expected: What the argument must be, e.g. ``"a non-empty string"``.
        value: The value given.

    Raises:
        ValidationError: Always.
    """
    raise ValidationError(f"{method}: argument '{arg}' must be {expected}, got {describe(value)}")
