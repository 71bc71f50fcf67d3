"""``ProcessEmitter``: the host side (:mod:`.emitter`, :mod:`.pool`, :mod:`.handles`), the sender
processes (:mod:`.sender`, started as ``python -m`` :mod:`.sender_process`) and the messages
between them (:mod:`.ipc`).

``ProcessEmitter`` is imported on first use, so that a sender process importing its own modules
does not import the host side.
"""

from typing import TYPE_CHECKING, Any, List

from ..._lazy import load as _load
from ..._lazy import names as _names

if TYPE_CHECKING:
    from .emitter import ProcessEmitter

_EXPORTS = {"ProcessEmitter": ".emitter"}

__all__ = ["ProcessEmitter"]


def __getattr__(name: str) -> Any:
    return _load(__name__, _EXPORTS, name)


def __dir__() -> List[str]:
    return _names(__name__, _EXPORTS)
