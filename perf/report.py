"""Writes the results: ``results.json`` (raw), ``results.md`` (table), ``chart.png``."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

TARGET_CALLER_FACTOR = 6.0
TARGET_THROUGHPUT_FACTOR = 8.0
TARGET_SLOWDOWN = 1.10


def _num(value: Optional[float], digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _stat(stat: Optional[Dict[str, float]], digits: int = 1) -> str:
    """``median (min-max)``."""
    if not stat:
        return "-"
    if stat.get("n", 1) <= 1:
        return _num(stat["median"], digits)
    return (
        f"{_num(stat['median'], digits)} ({_num(stat['min'], digits)}-{_num(stat['max'], digits)})"
    )


def _ratio(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if value >= 10:
        return f"{value:.0f}x"
    if value >= 0.1:
        return f"{value:.2f}x"
    return f"{value:.3f}x"


def table(results: Dict[str, Any]) -> str:
    """The markdown table: one row per variant, figures and ratios to the reference."""
    summary = results["summary"]
    head = [
        "Variant",
        "Caller CPU µs/call",
        "vs ref",
        "Call wall p50 / p99 µs",
        "End-to-end events/s",
        "vs ref",
        "Lost / dup",
        "Host slowdown @10k ev/s",
        "Host / senders peak RSS MB",
        "Latency p50 / p99 ms",
        "Collector CPU",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for name, row in summary.items():
        ratios = row.get("ratios", {})
        wall = "-"
        if row.get("caller_wall_p50_us"):
            p50, p99 = row["caller_wall_p50_us"]["median"], row["caller_wall_p99_us"]["median"]
            wall = f"{_num(p50)} / {_num(p99)}"
        mem = "-"
        if row.get("mem_host_mb") is not None:
            mem = f"{_num(row['mem_host_mb'], 0)} / {_num(row['mem_senders_mb'], 0)}"
        lat = "-"
        if row.get("latency_p50_ms") is not None:
            lat = f"{_num(row['latency_p50_ms'])} / {_num(row['latency_p99_ms'])}"
            if row.get("latency_received") != row.get("latency_expected"):
                lat += f" ({row.get('latency_received')}/{row.get('latency_expected')} seen)"
        cpu = "-"
        if row.get("collector_cpu_share"):
            cpu = f"{row['collector_cpu_share']['median'] * 100:.0f}%"
        name_cell = f"**{name}**" if name == results.get("reference") else name
        if row.get("errors"):
            name_cell += " ⚠"
        cells = [
            name_cell,
            _stat(row.get("caller_cpu_us")),
            _ratio(ratios.get("caller_cpu_us")),
            wall,
            _stat(row.get("throughput_eps"), 0),
            _ratio(ratios.get("throughput_eps")),
            f"{row.get('lost', 0)} / {row.get('duplicates', 0)}",
            _stat(row.get("slowdown"), 3),
            mem,
            lat,
            cpu,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: Dict[str, Any]) -> List[str]:
    """One line per target and ``ProcessEmitter`` variant: met or not, with the figures."""
    summary = results["summary"]
    ref = summary.get(results.get("reference", ""))
    lines: List[str] = []
    if not ref or not ref.get("caller_cpu_us"):
        return ["Targets not evaluated: the reference variant (anchor AsyncEmitter) was not run."]
    for name, row in summary.items():
        if not name.startswith("process-"):
            continue
        r = row.get("ratios", {})
        if r.get("caller_cpu_us"):
            factor = 1 / r["caller_cpu_us"]
            ok = factor >= TARGET_CALLER_FACTOR
            lines.append(
                f"- {name}: caller CPU {factor:.1f}x lower than the reference "
                f"(target ≥ {TARGET_CALLER_FACTOR:.0f}x): **{'met' if ok else 'NOT met'}**"
            )
        if r.get("throughput_eps"):
            ok = r["throughput_eps"] >= TARGET_THROUGHPUT_FACTOR and row.get("lost", 1) == 0
            lines.append(
                f"- {name}: end-to-end {r['throughput_eps']:.1f}x the reference, "
                f"{row.get('lost')} lost (target ≥ {TARGET_THROUGHPUT_FACTOR:.0f}x, 0 lost): "
                f"**{'met' if ok else 'NOT met'}**"
            )
        if row.get("slowdown") and ref.get("slowdown"):
            value = row["slowdown"]["median"]
            ok = value <= TARGET_SLOWDOWN
            lines.append(
                f"- {name}: host slowdown {value:.3f} (reference {ref['slowdown']['median']:.3f}; "
                f"target ≤ {TARGET_SLOWDOWN:.2f}): **{'met' if ok else 'NOT met'}**"
            )
    for name in ("redis", "celery"):
        row = summary.get(name)
        if row and row.get("throughput_eps"):
            lines.append(
                f"- {name}: {row['throughput_eps']['median']:,.0f} events/s end to end, "
                f"{row.get('lost')} lost, {row.get('duplicates')} duplicated"
            )
    return lines


def markdown(results: Dict[str, Any]) -> str:
    """The whole ``results.md``."""
    s = results["settings"]
    m = results["machine"]
    out = [
        "# Performance: this tracker side by side with snowplow-tracker 1.1.0",
        "",
        f"Run `{s['mode']}` on {results['started']} ({results['duration_s'] / 60:.1f} min); "
        f"{m['logical_cpus']} logical CPUs, {m['memory_gb']:.1f} GB, Python {m['python']}, "
        f"{m['platform']}. Reference (**bold**, every *vs ref* ratio is against it): "
        f"`{results['reference']}`.",
        "",
        table(results),
        "",
        "Figures are medians of "
        f"{s['repeats']} repetitions, (min-max) in brackets. *vs ref* = this row's median / the "
        "reference's median (lower is better for CPU, higher for events/s). Lost/dup: events "
        "missing or duplicated at the collector (by `eid`), all scenarios together. Collector "
        "CPU: the collector's CPU time over the throughput run's wall time (100% = one core).",
        "",
        "## Targets",
        "",
        *targets(results),
        "",
        "## Settings",
        "",
        f"- caller cost: {s['caller_events']} `track_struct_event` calls per repetition "
        "(sync GET: a tenth), `time.thread_time()` around the loop, `perf_counter_ns` per call;",
        f"- throughput: {s['throughput_events']} events per repetition as fast as possible "
        "(sync GET: a tenth), timed from the first call until the collector's `/_stats` "
        "counts them all (polled every 10 ms; flush included);",
        f"- host slowdown: a pure-Python LCG loop, {s['slowdown_seconds']} s without tracking, "
        f"one event every K iterations (K calibrated for {s['slowdown_rate']:,.0f} events/s), "
        "timed against the same loop without the call, in 4 alternating pairs per "
        "repetition (ratio = total tracked time / total plain time); wall time, so GIL "
        "contention from background threads counts;",
        f"- latency: {s['latency_events']} events at {s['latency_rate']:,.0f}/s, `se_la` = "
        "`time.time_ns()` at the call, arrival noted by a record-mode collector;",
        "- memory: RSS of the host and of all sender processes (descendants, Redis/Celery "
        "worker trees), sampled every 50 ms during the throughput scenario;",
        "- the event: `track_struct_event('perf', 'track', label, 'prop', 1.5, [context])`, "
        "subject with user id and platform, one custom context, base64 on (both libraries' "
        "default).",
        "",
        "| Variant | Configuration |",
        "|---|---|",
        *[f"| {name} | {v['description']} |" for name, v in results["variants"].items()],
    ]
    if results.get("errors"):
        out += ["", "## Errors", "", *[f"- {e}" for e in results["errors"]]]
    return "\n".join(out) + "\n"


def chart(results: Dict[str, Any], path: Path) -> None:
    """A PNG: end-to-end events/s and caller CPU µs/call, per variant, with min-max bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = results["summary"]
    names = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(names) + 1.8))
    for ax, key, title, fmt in (
        (axes[0], "throughput_eps", "End-to-end events per second (higher is better)", "{:,.0f}"),
        (axes[1], "caller_cpu_us", "Caller CPU µs per track call (lower is better)", "{:.1f}"),
    ):
        med, lo, hi = [], [], []
        for name in names:
            stat = summary[name].get(key)
            m = stat["median"] if stat else 0.0
            med.append(m)
            lo.append(m - stat["min"] if stat else 0.0)
            hi.append(stat["max"] - m if stat else 0.0)
        colors = ["#d62728" if n.startswith("anchor") else "#1f77b4" for n in names]
        y = list(range(len(names)))
        ax.barh(y, med, xerr=[lo, hi], color=colors, capsize=3)
        ax.set_yticks(y)
        ax.set_yticklabels(names)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        for yi, value in zip(y, med):
            if value:
                ax.text(value, yi, " " + fmt.format(value), va="center", fontsize=8)
        ax.margins(x=0.25)
    fig.suptitle(
        f"snowplow_tracker vs snowplow-tracker 1.1.0 (red) — {results['settings']['mode']} run, "
        f"{results['machine']['logical_cpus']} CPUs",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(results: Dict[str, Any], out: Path) -> None:
    """Write ``results.json``, ``results.md`` and ``chart.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "results.md").write_text(markdown(results))
    try:
        chart(results, out / "chart.png")
    except ImportError:  # matplotlib is an extra of the suite (pip install -e ".[perf]")
        print("perf: matplotlib is not installed: no chart.png", file=sys.stderr)


def publish(out: Path, root: Path) -> None:
    """Copy a run's ``results.md`` and ``chart.png`` to ``perf/RESULTS.md`` and ``perf/chart.png``.

    The README links these two files: they are the latest published results.
    """
    text = (out / "results.md").read_text()
    (root / "perf" / "RESULTS.md").write_text(text)
    (root / "perf" / "chart.png").write_bytes((out / "chart.png").read_bytes())


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m perf.report DIR [--publish]``: rewrite a run's report from its JSON."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m perf.report")
    parser.add_argument("folder", type=Path, help="a run's output folder (with results.json)")
    parser.add_argument(
        "--publish", action="store_true", help="also copy to perf/RESULTS.md and perf/chart.png"
    )
    args = parser.parse_args(argv)
    results = json.loads((args.folder / "results.json").read_text())
    (args.folder / "results.md").write_text(markdown(results))
    chart(results, args.folder / "chart.png")
    if args.publish:
        publish(args.folder, Path(__file__).resolve().parents[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
