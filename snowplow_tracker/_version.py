"""The library's version; ``tv`` on the wire is ``py-<VERSION>``."""

VERSION = "0.11.0"
TRACKER_VERSION = "py-" + VERSION
#: The 0.10 names of the version (code and tests written for 0.10 read them).
__version__ = VERSION
__version_info__ = tuple(int(part) for part in VERSION.split("."))
