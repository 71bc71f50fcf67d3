"""``ProcessEmitter``: the host side (:mod:`.emitter`, :mod:`.pool`, :mod:`.handles`), the sender
processes (:mod:`.sender`, started as ``python -m`` :mod:`.sender_process`) and the messages
between them (:mod:`.ipc`).

``ProcessEmitter`` is imported on first use, so that a sender process importing its own modules
does not import the host side.
"""

from typing import TYPE_CHECKING

from ..._lazy import exports as _exports

if TYPE_CHECKING:
    from .emitter import ProcessEmitter

_EXPORTS = {"ProcessEmitter": ".emitter"}

__all__ = ["ProcessEmitter"]

__getattr__, __dir__ = _exports(__name__, _EXPORTS)
