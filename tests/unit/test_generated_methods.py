"""The generated ``track_*`` methods are ordinary source: committed, current, visible to tools."""

from __future__ import annotations

import inspect
import linecache
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import Any, List, Optional, Set, Tuple

import pytest

from snowplow_tracker.events import PageView, track_methods
from snowplow_tracker.events.table import KINDS
from snowplow_tracker.tracker import Tracker
from tests.capture import Capture
from tools import generate_tracker

GENERATED = Path(track_methods.__file__).resolve()


def test_the_committed_modules_are_what_the_generator_writes_from_the_table() -> None:
    modules = generate_tracker.generate_all()
    assert GENERATED in modules
    for path, expected in modules.items():
        assert path.read_text() == expected, (
            f"{path.name} is out of date: run {generate_tracker.COMMAND}"
        )


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_inspect_shows_the_body_of_every_track_method(kind: Any) -> None:
    method = getattr(Tracker, f"track_{kind.name}")
    text = inspect.getsource(method)
    assert text.startswith(f"def track_{kind.name}(")
    assert "_checking.enabled" in text  # the generated checks, not a stub
    assert "AssertionError" not in text
    assert Path(inspect.getsourcefile(method) or "").resolve() == GENERATED
    assert method.__qualname__ == f"Tracker.track_{kind.name}"


class _Refusing:
    def input(self, payload: Any) -> None:
        raise RuntimeError("refused")


def test_a_traceback_through_a_track_method_shows_its_source_lines() -> None:
    tracker = Tracker(_Refusing())
    with pytest.raises(RuntimeError) as info:
        tracker.track_struct_event("c", "a")
    frames = [f for f in traceback.extract_tb(info.tb) if f.name == "track_struct_event"]
    assert len(frames) == 1
    assert Path(frames[0].filename).resolve() == GENERATED
    assert "_emitter" in (frames[0].line or "")


def _lines_run(call: Any) -> Tuple[Set[Tuple[str, int]], Any]:
    """The (file, line) pairs a tracer (as pdb and coverage use) sees while ``call`` runs."""
    seen: Set[Tuple[str, int]] = set()

    def trace(frame: FrameType, event: str, arg: Any) -> Optional[Any]:
        if event == "line":
            seen.add((frame.f_code.co_filename, frame.f_lineno))
        return trace

    sys.settrace(trace)
    try:
        result = call()
    finally:
        sys.settrace(None)
    return seen, result


def test_a_tracer_steps_through_the_generated_lines_as_pdb_and_coverage_do() -> None:
    capture = Capture()
    seen, _ = _lines_run(lambda: Tracker(capture).track_page_view("http://x/", "T"))
    lines: List[int] = sorted(n for f, n in seen if Path(f).resolve() == GENERATED)
    assert len(lines) > 10
    for n in lines:
        assert linecache.getline(str(GENERATED), n).strip()
    assert capture.events[-1]["url"] == "http://x/"


def test_the_1x_event_classes_code_is_source_too() -> None:
    text = inspect.getsource(PageView._track)
    assert text.startswith("def track_page_view(")
    assert '"url"' in text
    assert Path(inspect.getsourcefile(PageView._track) or "").resolve() == GENERATED
