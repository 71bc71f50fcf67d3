"""``python -m snowplow_tracker.testing`` runs the collector command, like ``.collector``."""

from __future__ import annotations

import sys

from .collector import main

if __name__ == "__main__":
    sys.exit(main())
