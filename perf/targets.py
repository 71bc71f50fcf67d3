"""The targets of issues 9 (host memory, restated ratios) and 10 (a collector 50 ms away).

:data:`TARGETS` states each one as data: which rows it applies to, how its figure is read
from the summary, the comparison and the goal. :func:`evaluate` gives, per target and row, the
figure, the goal, figure / goal and whether it is met.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from .variants import ANCHOR_REFERENCE, ANCHOR_REFERENCE_4, NOOP

Row = Dict[str, Any]
Summary = Dict[str, Row]
Select = Callable[[Dict[str, Any]], bool]
Measure = Callable[[Row, Summary], Optional[float]]


def _median(row: Optional[Row], key: str) -> Optional[float]:
    value = (row or {}).get(key)
    return float(value["median"]) if value else None


def _sub(row: Optional[Row], section: str, key: str) -> Optional[float]:
    value = ((row or {}).get(section) or {}).get(key)
    return float(value) if isinstance(value, (int, float)) else None


def _over(mine: Optional[float], theirs: Optional[float]) -> Optional[float]:
    return mine / theirs if mine is not None and theirs else None


def _delay_eps(row: Optional[Row], ms: int) -> Optional[float]:
    value = ((row or {}).get("delays") or {}).get(str(ms))
    return float(value["events_per_s"]) if value else None


def _delay_lost(row: Row, ms: int) -> Optional[float]:
    value = (row.get("delays") or {}).get(str(ms))
    return float(value["lost"]) if value else None


def _ref(summary: Summary, name: str = ANCHOR_REFERENCE) -> Optional[Row]:
    return summary.get(name)


def _emitter_overhead(row: Row, summary: Summary) -> Optional[float]:
    """``track_struct_event`` CPU with this emitter over the same with a no-op emitter.

    From the kinds scenario, where both ran interleaved in one process; without it, from the
    caller scenarios of this row and of the ``noop`` row.
    """
    mine = (row.get("kinds") or {}).get("struct_event")
    base = (row.get("kinds_noop") or {}).get("struct_event")
    if mine is None or not base:
        noop = summary.get(NOOP) or {}
        return _over(_median(row, "caller_cpu_us"), _median(noop, "caller_cpu_us"))
    return float(mine) / float(base)


def _anchor_factor(key: str) -> Measure:
    """How many times lower this row's figure is than the reference's."""
    return lambda row, summary: _over(_median(_ref(summary), key), _median(row, key))


def _is(*kinds: str) -> Select:
    return lambda variant: bool(variant["kind"] in kinds and variant["lib"] == "ours")


def _buffered_process(variant: Dict[str, Any]) -> bool:
    return bool(variant["kind"] == "process" and variant["options"].get("buffer_size") == 100)


def _default_process(variant: Dict[str, Any]) -> bool:
    return bool(variant["kind"] == "process" and "buffer_size" not in variant["options"])


@dataclass(frozen=True)
class Target:
    """One target.

    Attributes:
        issue: The issue that sets it.
        text: What is measured, as the report says it.
        select: Which variants (their ``results["variants"]`` entry) it applies to.
        measure: The figure, from the variant's summary row and the whole summary.
        goal: The goal.
        at_most: True if the figure must be <= the goal, False if >=.
        unit: Appended to the figure and the goal (``" MB"``, ``"x"``, ...).
    """

    issue: int
    text: str
    select: Select
    measure: Measure
    goal: float
    at_most: bool
    unit: str = ""


HOLDERS = _is("process", "async", "redis")
PROCESS = _is("process")

TARGETS: List[Target] = [
    # Issue 9: host memory.
    Target(9, "burst: dropped", HOLDERS, lambda r, s: _sub(r, "burst", "dropped"), 0, True),
    Target(9, "burst: lost", HOLDERS, lambda r, s: _sub(r, "burst", "lost"), 0, True),
    Target(
        9,
        "burst: peak host RSS growth",
        HOLDERS,
        lambda r, s: _sub(r, "burst", "peak_growth_mb"),
        80,
        True,
        " MB",
    ),
    Target(
        9,
        "burst: RSS growth after the flush and settling (5 s in the full run)",
        HOLDERS,
        lambda r, s: _sub(r, "burst", "growth_settled_mb"),
        30,
        True,
        " MB",
    ),
    Target(
        9,
        "outage: peak host RSS growth (default settings)",
        HOLDERS,
        lambda r, s: _sub(r, "outage", "peak_growth_mb"),
        110,
        True,
        " MB",
    ),
    Target(
        9,
        "outage: flush(timeout=2) returns within",
        HOLDERS,
        lambda r, s: _sub(r, "outage", "flush_seconds"),
        4,
        True,
        " s",
    ),
    Target(
        9,
        "outage: events neither delivered nor counted as dropped",
        HOLDERS,
        lambda r, s: _sub(r, "outage", "lost"),
        0,
        True,
    ),
    Target(
        9,
        "caller CPU per call, times lower than the anchor",
        PROCESS,
        _anchor_factor("caller_cpu_us"),
        3.5,
        False,
        "x",
    ),
    Target(
        9,
        "host CPU per delivered event, times lower than the anchor",
        PROCESS,
        _anchor_factor("host_cpu_us_per_event"),
        6,
        False,
        "x",
    ),
    Target(
        9,
        "end-to-end events/s, times the anchor's",
        PROCESS,
        lambda r, s: _over(_median(r, "throughput_eps"), _median(_ref(s), "throughput_eps")),
        5,
        False,
        "x",
    ),
    Target(9, "end-to-end: lost", PROCESS, lambda r, s: r.get("throughput_lost"), 0, True),
    Target(
        9,
        "CPU-bound host slowdown at 10k events/s",
        PROCESS,
        lambda r, s: _median(r, "slowdown"),
        1.05,
        True,
        "x",
    ),
    Target(
        9,
        "peak host RSS in the end-to-end run minus the anchor's",
        PROCESS,
        lambda r, s: (
            r["mem_host_mb"] - _ref(s)["mem_host_mb"]  # type: ignore[index]
            if r.get("mem_host_mb") is not None and (_ref(s) or {}).get("mem_host_mb")
            else None
        ),
        30,
        True,
        " MB",
    ),
    Target(9, "emitter overhead over a no-op emitter", PROCESS, _emitter_overhead, 1.3, True, "x"),
    # Issue 10: a collector 50 ms away.
    Target(
        10,
        "events/s, collector at 50 ms",
        _buffered_process,
        lambda r, s: _delay_eps(r, 50),
        30_000,
        False,
    ),
    Target(
        10,
        "events/s at 50 ms, times the anchor's with 1 thread",
        _buffered_process,
        lambda r, s: _over(_delay_eps(r, 50), _delay_eps(_ref(s), 50)),
        15,
        False,
        "x",
    ),
    Target(
        10,
        "events/s at 50 ms, times the anchor's with 4 threads",
        _buffered_process,
        lambda r, s: _over(_delay_eps(r, 50), _delay_eps(_ref(s, ANCHOR_REFERENCE_4), 50)),
        4,
        False,
        "x",
    ),
    Target(10, "lost at 50 ms", PROCESS, lambda r, s: _delay_lost(r, 50), 0, True),
    Target(
        10,
        "events/s, collector at 50 ms, all defaults",
        _default_process,
        lambda r, s: _delay_eps(r, 50),
        10_000,
        False,
    ),
    Target(
        10,
        "events/s at 200 ms over events/s at 50 ms",
        PROCESS,
        lambda r, s: _over(_delay_eps(r, 200), _delay_eps(r, 50)),
        0.5,
        False,
        "x",
    ),
]


def evaluate(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Every target against every row it applies to that has the figure.

    Returns:
        ``{"issue", "target", "variant", "value", "goal", "at_most", "unit", "ratio", "met"}``
        per pair; ``ratio`` is value / goal (None when the goal is 0).
    """
    summary: Summary = results["summary"]
    variants: Dict[str, Dict[str, Any]] = results["variants"]
    rows: List[Dict[str, Any]] = []
    for target in TARGETS:
        for name, row in summary.items():
            variant = variants.get(name)
            if variant is None or not target.select(variant):
                continue
            value = target.measure(row, summary)
            if value is None:
                continue
            met = value <= target.goal if target.at_most else value >= target.goal
            rows.append(
                {
                    "issue": target.issue,
                    "target": target.text,
                    "variant": name,
                    "value": value,
                    "goal": target.goal,
                    "at_most": target.at_most,
                    "unit": target.unit,
                    "ratio": value / target.goal if target.goal else None,
                    "met": met,
                }
            )
    return rows
