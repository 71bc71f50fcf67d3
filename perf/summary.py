"""From the workers' raw results to one summary row per variant (medians, spreads, ratios).

Each scenario's figures are read by one entry of :data:`EXTRACTORS`; the report and the
targets only read the summary rows.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable, Dict, List, Optional

from .variants import ANCHOR_REFERENCE, DELAYS

Row = Dict[str, Any]
Result = Dict[str, Any]


def stat(values: List[Optional[float]]) -> Optional[Dict[str, float]]:
    """``{"median", "min", "max", "n"}`` of the numbers among ``values`` (None if none)."""
    numbers = [v for v in values if v is not None and v == v]
    if not numbers:
        return None
    return {
        "median": statistics.median(numbers),
        "min": min(numbers),
        "max": max(numbers),
        "n": len(numbers),
    }


def _caller(row: Row, result: Result, reps: List[Dict[str, Any]]) -> None:
    row["caller_cpu_us"] = stat([r["cpu_us"] for r in reps])
    row["caller_wall_p50_us"] = stat([r["wall_p50_us"] for r in reps])
    row["caller_wall_p99_us"] = stat([r["wall_p99_us"] for r in reps])


def _throughput(row: Row, result: Result, reps: List[Dict[str, Any]]) -> None:
    row["throughput_eps"] = stat([r["events_per_s"] for r in reps])
    row["throughput_lost"] = sum(int(r["lost"]) for r in reps)
    row["throughput_events"] = result.get("spec", {}).get("events")
    row["collector_cpu_share"] = stat([r["collector_cpu_share"] for r in reps])
    row["host_cpu_us_per_event"] = stat([r.get("host_cpu_us_per_event") for r in reps])
    row["sender_cpu_us_per_event"] = stat([r.get("sender_cpu_us_per_event") for r in reps])
    mem = result.get("memory", {})
    row["mem_host_mb"] = mem.get("host_peak_mb")
    row["mem_senders_mb"] = mem.get("senders_peak_mb")
    row["sender_processes"] = mem.get("sender_processes")


def _slowdown(row: Row, result: Result, reps: List[Dict[str, Any]]) -> None:
    row["slowdown"] = stat([r["ratio"] for r in reps])
    row["slowdown_rate"] = stat([r["events_per_s"] for r in reps])


def _latency(row: Row, result: Result, reps: List[Dict[str, Any]]) -> None:
    lat = result.get("latency", {})
    row["latency_p50_ms"] = lat.get("p50_ms")
    row["latency_p99_ms"] = lat.get("p99_ms")
    row["latency_received"] = lat.get("received")
    row["latency_expected"] = lat.get("expected")


def _memory(name: str) -> Callable[[Row, Result, List[Dict[str, Any]]], None]:
    """The extractor of a memory scenario: its one repetition under ``row[name]``."""

    def extract(row: Row, result: Result, reps: List[Dict[str, Any]]) -> None:
        rep = dict(reps[0])
        rep.pop("phases", None)
        # The runner's 5 ms samples give the peak; the worker's own readings are the fallback.
        rep.setdefault("peak_growth_mb", rep.get("growth_tracked_mb"))
        row[name] = rep

    return extract


def _delay(row: Row, result: Result, reps: List[Dict[str, Any]]) -> None:
    rep = reps[0]
    flight = dict(result.get("in_flight") or {})
    flight.update(rep.get("collector") or {})
    # The connections seen open include the worker's own keep-alive /_stats connection.
    connections = flight.pop("max_open_connections", None)
    reported = [v for k, v in flight.items() if "max" in k or "peak" in k]
    numbers = [v for v in reported if isinstance(v, (int, float))]
    row.setdefault("delays", {})[str(rep["delay_ms"])] = {
        "events_per_s": rep["events_per_s"],
        "lost": rep["lost"],
        "tracked": rep["tracked"],
        "host_rss_mb": result.get("memory", {}).get("host_peak_mb"),
        "senders_rss_mb": result.get("memory", {}).get("senders_peak_mb"),
        # The collector's own count when it reports one, else the open connections seen.
        "in_flight": max(numbers) if numbers else max(0, (connections or 1) - 1),
        "in_flight_source": "collector" if numbers else "connections",
    }


def _kinds(row: Row, result: Result, reps: List[Dict[str, Any]]) -> None:
    row["kinds"] = dict(reps[-1].get("median_kinds") or {})
    row["kinds_noop"] = dict(reps[-1].get("median_noop") or {})  # same process, interleaved


EXTRACTORS: Dict[str, Callable[[Row, Result, List[Dict[str, Any]]], None]] = {
    "caller": _caller,
    "throughput": _throughput,
    "slowdown": _slowdown,
    "latency": _latency,
    "burst": _memory("burst"),
    "outage": _memory("outage"),
    "kinds": _kinds,
    **{name: _delay for name in DELAYS},
}

#: Figures compared with the reference as a ratio (this row / the reference's).
RATIO_STATS = ("caller_cpu_us", "throughput_eps", "slowdown", "host_cpu_us_per_event")
RATIO_VALUES = ("mem_host_mb", "mem_senders_mb", "latency_p50_ms", "latency_p99_ms")


def summarise(raw: Dict[str, Dict[str, Any]]) -> Dict[str, Row]:
    """Medians and spreads per variant, and ratios to the reference variant."""
    summary: Dict[str, Row] = {}
    for name, scenarios in raw.items():
        row: Row = {"lost": 0, "duplicates": 0, "errors": [], "ignored_options": []}
        for scenario, result in scenarios.items():
            if "error" in result:
                row["errors"].append(f"{scenario}: {result['error']}")
                continue
            reps = result.get("reps", [])
            row["lost"] += sum(int(r.get("lost", 0)) for r in reps)
            row["duplicates"] += sum(int(r.get("duplicates", 0)) for r in reps)
            for option in result.get("ignored_options") or []:
                if option not in row["ignored_options"]:
                    row["ignored_options"].append(option)
            if reps:
                EXTRACTORS[scenario](row, result, reps)
        summary[name] = row
    ref = summary.get(ANCHOR_REFERENCE) or {}
    for row in summary.values():
        ratios: Dict[str, Optional[float]] = {}
        for key in RATIO_STATS:
            mine, theirs = row.get(key), ref.get(key)
            ratios[key] = (
                mine["median"] / theirs["median"] if mine and theirs and theirs["median"] else None
            )
        for key in RATIO_VALUES:
            mine, theirs = row.get(key), ref.get(key)
            ratios[key] = mine / theirs if mine is not None and theirs else None
        row["ratios"] = ratios
    return summary


def one_line(result: Result) -> str:
    """A step's outcome for the progress line."""
    if "error" in result:
        return "ERROR " + str(result["error"])[:200]
    reps = result.get("reps") or [{}]
    scenario = str(result.get("scenario"))
    lost = sum(int(r.get("lost", 0)) for r in reps)
    if scenario == "caller":
        text = f"{statistics.median(r['cpu_us'] for r in reps):.1f} us CPU/call"
    elif scenario == "throughput":
        text = f"{statistics.median(r['events_per_s'] for r in reps):,.0f} events/s"
    elif scenario == "slowdown":
        text = f"slowdown x{statistics.median(r['ratio'] for r in reps):.3f}"
    elif scenario == "latency":
        lat = result.get("latency", {})
        p50, p99 = lat.get("p50_ms", float("nan")), lat.get("p99_ms", float("nan"))
        text = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    elif scenario in ("burst", "outage"):
        rep = reps[0]
        peak = rep.get("peak_growth_mb", rep.get("growth_tracked_mb", float("nan")))
        text = f"{rep['tracked']:,} events, peak +{peak:.0f} MB, dropped {rep['dropped']:,}"
        if scenario == "burst":
            text += f", +{rep['growth_settled_mb']:.0f} MB after settling"
        else:
            text += f", flush(2) {rep['flush_seconds']:.1f} s, delivered {rep['delivered']:,}"
    elif scenario in DELAYS:
        flight = result.get("in_flight") or {}
        busy = max(0, int(flight.get("max_open_connections", 1)) - 1)  # less the /_stats one
        text = f"{reps[0]['events_per_s']:,.0f} events/s, {busy} sending connections at most"
    elif scenario == "kinds":
        median = reps[-1].get("median_kinds") or {}
        text = f"{len(median)} kinds, struct {median.get('struct_event', float('nan')):.1f} us"
    else:
        text = "done"
    return f"{text}, lost {lost}"
