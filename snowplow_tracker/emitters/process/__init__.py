"""``ProcessEmitter``: the host side (:mod:`.emitter`), the sender processes (:mod:`.sender`)
and the messages between them (:mod:`.ipc`)."""

from .emitter import ProcessEmitter

__all__ = ["ProcessEmitter"]
