"""Exceptions raised by the library."""


class SnowplowError(Exception):
    """Base class of every exception the library raises."""


class ConfigurationError(SnowplowError, ValueError):
    """An emitter or tracker was constructed with an invalid argument."""


class ValidationError(SnowplowError, ValueError):
    """A ``track_*`` or setter argument broke its documented contract; nothing was queued.

    The message names the method, the argument, what was expected and the value given.
    """


class EncodingError(SnowplowError, TypeError):
    """An event could not be serialised; raised in the caller, nothing was queued."""


class SenderStartError(SnowplowError, RuntimeError):
    """The sender processes of a ``ProcessEmitter`` could not start (for instance the
    interpreter cannot be run, or cannot import the sender's modules).

    Raised by ``track_*`` and ``flush()`` once it is known; the events held are dropped and
    reported when the emitter closes.
    """
