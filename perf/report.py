"""Writes the results: ``results.json`` (raw), ``results.md`` (table), ``chart.png``."""

from __future__ import annotations

import functools
import json
import math
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .targets import evaluate
from .variants import DELAYS


def _num(value: Optional[float], digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if float(value).is_integer() and abs(value) < 1000:
        return str(int(value))
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
        "Host / senders CPU µs per delivered event",
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
            _pair(row.get("host_cpu_us_per_event"), row.get("sender_cpu_us_per_event")),
            mem,
            lat,
            cpu,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pair(first: Optional[Dict[str, float]], second: Optional[Dict[str, float]]) -> str:
    if not first and not second:
        return "-"
    return " / ".join(_num(x["median"]) if x else "-" for x in (first, second))


def _grid(head: Sequence[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def memory_table(results: Dict[str, Any]) -> str:
    """Issue 9: the burst, the outage and the end-to-end run's peak host RSS, per variant."""
    head = [
        "Variant",
        "Burst events",
        "Burst peak growth MB",
        "Growth after flush / settled MB",
        "Bytes per queued event",
        "Burst dropped / lost",
        "Outage events",
        "Outage peak growth MB",
        "flush(timeout=2) s",
        "Outage delivered / dropped / lost",
        "End-to-end peak host RSS MB",
    ]
    rows = []
    for name, row in results["summary"].items():
        burst, outage = row.get("burst") or {}, row.get("outage") or {}
        if not burst and not outage and row.get("mem_host_mb") is None:
            continue
        rows.append(
            [
                name,
                f"{burst['tracked']:,}" if burst else "-",
                _num(burst.get("peak_growth_mb"), 0),
                f"{_num(burst.get('growth_flushed_mb'), 0)} / "
                f"{_num(burst.get('growth_settled_mb'), 0)}"
                if burst
                else "-",
                _per_event(burst),
                f"{burst['dropped']:,} / {burst['lost']:,}" if burst else "-",
                f"{outage['tracked']:,}" if outage else "-",
                _num(outage.get("peak_growth_mb"), 0),
                _num(outage.get("flush_seconds"), 2),
                f"{outage['delivered']:,} / "
                f"{format(outage['dropped'], ',') if outage.get('has_stats') else 'n/a'} / "
                f"{outage['lost']:,}"
                if outage
                else "-",
                _num(row.get("mem_host_mb"), 0),
            ]
        )
    return _grid(head, rows)


def _per_event(burst: Dict[str, Any]) -> str:
    """RSS growth per queued event, and the emitter's own ``queued_bytes`` per event if any."""
    text = _num(burst.get("bytes_per_queued_event"), 0)
    held, queued = burst.get("queued_bytes"), burst.get("queued_events_stats")
    if isinstance(held, (int, float)) and queued:
        text += f" (stats: {held / queued:,.0f})"
    return text


def delay_table(results: Dict[str, Any]) -> str:
    """Issue 10: events/s, lost, host RSS and requests in flight per collector delay."""
    delays = [name[len("delay") :] for name in DELAYS]
    head = ["Variant"]
    for ms in delays:
        head += [f"{ms} ms: events/s", "lost", "host RSS MB", "in flight"]
    rows = []
    for name, row in results["summary"].items():
        seen = row.get("delays") or {}
        if not seen:
            continue
        cells = [name]
        for ms in delays:
            d = seen.get(ms)
            if d is None:
                cells += ["-"] * 4
                continue
            flight = d.get("in_flight")
            mark = "" if d.get("in_flight_source") == "collector" else "†"
            cells += [
                _num(d["events_per_s"], 0),
                str(d["lost"]),
                _num(d.get("host_rss_mb"), 0),
                f"{flight}{mark}" if flight is not None else "-",
            ]
        rows.append(cells)
    return _grid(head, rows)


def kinds_table(results: Dict[str, Any]) -> str:
    """Issue 11: CPU µs per call of every ``track_*`` kind, per emitter, and the overhead.

    Each emitter row's no-op figures were timed in the same process, interleaved with it.
    """
    rows = [(n, r) for n, r in results["summary"].items() if r.get("kinds")]
    if not rows:
        return ""
    head = ["Kind"]
    for name, row in rows:
        noop = row.get("kinds_noop")
        head += [f"{name} µs/call"] + (["no-op µs/call", "overhead"] if noop else [])
    grid = []
    for kind in rows[0][1]["kinds"]:
        cells = [kind]
        for _, row in rows:
            noop = row.get("kinds_noop") or {}
            mine, base = row["kinds"].get(kind), noop.get(kind)
            cells.append(_num(mine, 2))
            if noop:
                cells += [_num(base, 2), _ratio(mine / base) if mine and base else "-"]
        grid.append(cells)
    return _grid(head, grid)


def targets_table(results: Dict[str, Any]) -> str:
    """Every target of issues 9 and 10 against every row it applies to: met or not."""
    if _anchor_missing(results):
        note = "\n\nThe anchor was not run: the targets relative to it are not evaluated."
    else:
        note = ""
    rows = []
    for t in evaluate(results):
        sign = "≤" if t["at_most"] else "≥"
        unit = t["unit"]
        rows.append(
            [
                f"#{t['issue']}",
                t["target"],
                t["variant"],
                f"{_num(t['value'], 2)}{unit}",
                f"{sign} {_num(t['goal'], 2)}{unit}",
                _ratio(t["ratio"]),
                "**met**" if t["met"] else "**NOT met**",
            ]
        )
    head = ["Issue", "Target", "Variant", "Measured", "Goal", "Measured / goal", "Result"]
    return _grid(head, rows) + note


def _anchor_missing(results: Dict[str, Any]) -> bool:
    """Whether the reference row is absent or has no figures."""
    return not results["summary"].get(results.get("reference", ""), {}).get("caller_cpu_us")


def _fleet(results: Dict[str, Any]) -> List[str]:
    """The fleet section (issue 19), when the run has one."""
    rows = results.get("fleet")
    if not rows:
        return []
    from .fleet import fleet_section

    return ["## The server as one host (issue 19)", "", fleet_section(rows), ""]


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
        "missing or duplicated at the collector (by `eid`), all scenarios together; in the "
        "memory scenarios, events neither delivered nor counted by the emitter as dropped "
        "(1.1.0 counts no drops: its outage losses show here). Collector "
        "CPU: the collector's CPU time over the throughput run's wall time (100% = one core).",
        "",
        "## Host memory (issue 9)",
        "",
        memory_table(results),
        "",
        f"Burst: up to {s['burst_events']:,} `track_struct_event` calls as fast as one thread "
        "can, collector up; peak growth = highest host RSS (sampled every 5 ms from outside) "
        "minus the RSS before the burst; *after flush* once the collector counted every event, "
        f"*settled* after {s['settle_seconds']:g} s idle more. Bytes per queued event = RSS "
        "growth at the end of the tracking loop / events not yet delivered then (in brackets: "
        "the emitter's `stats().queued_bytes` / `stats().queued` then, where it reports them). "
        f"Outage: up to {s['outage_events']:,} events tracked while the collector's port refuses "
        "connections, then it comes back; `flush(timeout=2)` is timed (1.1.0's `flush()` has "
        "no timeout), then the run waits up to "
        f"{s['recover_seconds']:g} s and closes the emitter; *dropped* = the emitter's "
        "`stats()` dropped + failed (1.1.0 has no stats: n/a), *lost* = neither delivered nor "
        "counted. Rows with fewer events ran a scaled count (the anchor: half the burst, a "
        "tenth of the outage; sync GET: a tenth): compare growth per event there.",
        "",
        "## Collector a network away (issue 10)",
        "",
        delay_table(results),
        "",
        "The collector delays every answer by the given time. Events/s: the collector's count "
        f"over {s['delay_seconds']:g} s of steady state after {s['ramp_seconds']:g} s of "
        "ramp-up; the caller tracks as fast as it can while at most about three seconds' worth "
        "of events are outstanding (so queue bounds are not what is measured). Lost: after a "
        "final flush. Host RSS: peak of the host process. In flight: the most requests the "
        "collector held at once as its `/_stats` reports it; † = the most TCP connections "
        "open to it at once (sampled every 20 ms, less the worker's own `/_stats` "
        "connection), an upper bound used when it does not.",
        "",
        "## Caller cost of every event kind (issue 11)",
        "",
        kinds_table(results) or "(the `kinds` scenario did not run)",
        "",
        "CPU µs per call on the calling thread (`thread_time`), median of the repetitions, "
        "each kind with the suite's subject and one context. *no-op*: the same calls on a "
        "second tracker whose emitter's `input` does nothing (the Tracker alone), timed in the "
        "same process, kind by kind, alternating which goes first; *overhead* = the emitter's "
        "figure / the no-op figure. The `noop` row runs the no-op emitter only.",
        "",
        *_fleet(results),
        "## Targets (issues 9 and 10)",
        "",
        targets_table(results),
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
        "worker trees), sampled every 5 ms (senders every 50 ms) during the throughput scenario;",
        "- CPU per delivered event: the host process's CPU (all its threads) and its senders' "
        "(descendants, Redis/Celery worker trees, psutil) from the first call until the "
        "collector counted every event, over the events delivered;",
        "- the event: `track_struct_event('perf', 'track', label, 'prop', 1.5, [context])`, "
        "subject with user id and platform, one custom context, base64 on (both libraries' "
        "default).",
        "",
        "| Variant | Configuration | Options not accepted by this library (ignored) |",
        "|---|---|---|",
        *[
            f"| {name} | {v['description']} | "
            f"{', '.join(results['summary'].get(name, {}).get('ignored_options') or []) or '-'} |"
            for name, v in results["variants"].items()
        ],
    ]
    if results.get("errors"):
        out += ["", "## Errors", "", *[f"- {e}" for e in results["errors"]]]
    return "\n".join(out) + "\n"


def _delay_eps(row: Dict[str, Any], ms: str) -> Optional[float]:
    value = ((row.get("delays") or {}).get(ms) or {}).get("events_per_s")
    return float(value) if value is not None else None


#: The chart's panels: title, and how to read each row's bars (label -> value, or None).
PANELS: List[Any] = [
    (
        "End-to-end events/s (higher is better)",
        {"": lambda r: (r.get("throughput_eps") or {}).get("median")},
    ),
    (
        "Caller CPU µs per track call (lower is better)",
        {"": lambda r: (r.get("caller_cpu_us") or {}).get("median")},
    ),
    (
        "Host CPU µs per delivered event (lower is better)",
        {"": lambda r: (r.get("host_cpu_us_per_event") or {}).get("median")},
    ),
    (
        "Burst: host RSS growth MB, peak / settled after the flush",
        {
            "peak": lambda r: (r.get("burst") or {}).get("peak_growth_mb"),
            "after": lambda r: (r.get("burst") or {}).get("growth_settled_mb"),
        },
    ),
    (
        "Outage: peak host RSS growth MB",
        {"": lambda r: (r.get("outage") or {}).get("peak_growth_mb")},
    ),
    (
        "Events/s with the collector 20 / 50 / 200 ms away",
        {f"{ms} ms": functools.partial(_delay_eps, ms=ms) for ms in ("20", "50", "200")},
    ),
]


def chart(results: Dict[str, Any], path: Path) -> None:
    """A PNG: one horizontal bar panel per figure of :data:`PANELS`, every variant a row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    summary = results["summary"]
    names = list(summary)
    height = 0.32 * len(names) + 1.6
    fig, axes = plt.subplots(2, 3, figsize=(18, 2 * height))
    for ax, (title, series) in zip(axes.flat, PANELS):
        y = list(range(len(names)))
        width = 0.8 / len(series)
        for i, (label, read) in enumerate(series.items()):
            values = [read(summary[n]) or 0.0 for n in names]
            offsets = [yi - 0.4 + width * (i + 0.5) for yi in y]
            series_color = f"C{i}" if len(series) > 1 else "#1f77b4"
            bars = ax.barh(offsets, values, height=width, color=series_color, label=label or None)
            for bar, name in zip(bars, names):  # the anchor: red (hatched among several series)
                if name.startswith("anchor"):
                    if len(series) > 1:
                        bar.set_hatch("///")
                        bar.set_edgecolor("#d62728")
                    else:
                        bar.set_color("#d62728")
            for yi, value in zip(offsets, values):
                if value:
                    text = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
                    ax.text(value, yi, " " + text, va="center", fontsize=6)
        if len(series) > 1:
            handles = [Patch(color=f"C{i}", label=label) for i, label in enumerate(series)]
            ax.legend(handles=handles, fontsize=7, loc="lower right")
        ax.set_yticks(y)
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        ax.margins(x=0.25)
    fig.suptitle(
        f"snowplow_tracker vs snowplow-tracker 1.1.0 (red or red-hatched) — "
        f"{results['settings']['mode']} run, "
        f"{results['machine']['logical_cpus']} CPUs",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
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
