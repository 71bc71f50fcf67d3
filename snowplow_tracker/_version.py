"""The library's version; ``tv`` on the wire is ``py-<VERSION>``.

``__version__``, ``__version_info__`` and ``__build_version__`` are the names tracker 1.x code
reads from this module.
"""

VERSION = "0.11.0"
TRACKER_VERSION = "py-" + VERSION

#: The names code written for 0.10 and 1.x reads from this module.
__version__ = VERSION
__version_info__ = tuple(int(part) for part in VERSION.split("."))
__build_version__ = VERSION
