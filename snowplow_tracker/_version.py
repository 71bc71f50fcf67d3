"""The library's version; ``tv`` on the wire is ``py-<VERSION>``."""

VERSION = "0.11.0"
TRACKER_VERSION = "py-" + VERSION
