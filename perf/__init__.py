"""The performance suite of ``snowplow_tracker`` (not installed with the library).

Run it from the repository root with ``python -m perf`` (see ``perf/README.md``).
"""
