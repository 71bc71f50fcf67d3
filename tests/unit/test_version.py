"""The version is also exposed under the 0.10 names that code and tests written for 0.10 read."""

from snowplow_tracker import _version
from snowplow_tracker.tracker import TRACKER_VERSION


def test_0_10_version_names_match_the_version_on_the_wire() -> None:
    assert "py-" + _version.__version__ == TRACKER_VERSION
    assert _version.__version__ == _version.VERSION
    assert ".".join(map(str, _version.__version_info__)) == _version.VERSION
