"""``python -m perf``: the performance suite, from the repository root.

Examples::

    python -m perf                 # full run (~10 min on 2 cores)
    python -m perf --quick         # a few minutes
    python -m perf --smoke         # CI: tiny counts, no anchor venv, no Redis/Celery (< 60 s)
    python -m perf --quick --variants process-2,anchor-async-post --scenarios caller,throughput
    python -m perf --process-counts 1,2 --events 50000 --repeats 3 --out /tmp/perf
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from . import report
from .collector import ROOT
from .runner import ALL_SCENARIOS, Settings, run
from .variants import SMOKE_PLAN, all_variants

#: Counts per mode: calls per caller-cost repetition, events per throughput repetition,
#: slowdown seconds, latency events, repetitions, warm-up events; the memory scenarios' events,
#: settle and recovery seconds; the collector-delay scenarios' steady-state and ramp seconds;
#: calls per event kind; the default ``--process-counts``.
MODES: Dict[str, Dict[str, Any]] = {
    "smoke": {
        "caller": 300,
        "throughput": 1000,
        "slowdown": 0.1,
        "latency": 200,
        "repeats": 1,
        "warmup": 50,
        "burst": 3000,
        "outage": 2000,
        "settle": 0.5,
        "recover": 10.0,
        "delay": 1.0,
        "ramp": 0.5,
        "kinds": 100,
        "process_counts": "1,2",
    },
    "quick": {
        "caller": 5000,
        "throughput": 20000,
        "slowdown": 0.3,
        "latency": 1000,
        "repeats": 3,
        "warmup": 200,
        "burst": 50_000,
        "outage": 50_000,
        "settle": 2.0,
        "recover": 8.0,
        "delay": 1.5,
        "ramp": 0.5,
        "kinds": 1000,
        "process_counts": "1,2",
    },
    "full": {
        "caller": 20000,
        "throughput": 50000,
        "slowdown": 1.0,
        "latency": 3000,
        "repeats": 3,
        "warmup": 500,
        "burst": 200_000,
        "outage": 300_000,
        "settle": 5.0,
        "recover": 10.0,
        "delay": 2.0,
        "ramp": 1.0,
        "kinds": 3000,
        "process_counts": "1,2,4",
    },
}


def _csv(text: str) -> List[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m perf",
        description="Measure this tracker side by side with snowplow-tracker 1.1.0: caller cost, "
        "end-to-end throughput, host slowdown, memory and latency. Writes results.md, "
        "chart.png and results.json to --out.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="smaller counts, 3 repetitions (a few minutes)"
    )
    size.add_argument(
        "--smoke",
        action="store_true",
        help="tiny counts, 1 repetition, no anchor, no Redis/Celery unless in --variants (CI); "
        "exit status 1 if an event was lost",
    )
    parser.add_argument(
        "--scenarios", help=f"comma-separated, from {','.join(ALL_SCENARIOS)} (default: all)"
    )
    parser.add_argument(
        "--variants",
        help="comma-separated variant names (default: all; see --list)",
    )
    parser.add_argument("--events", type=int, help="events per throughput repetition")
    parser.add_argument("--caller-events", type=int, help="calls per caller-cost repetition")
    parser.add_argument(
        "--process-counts",
        help="ProcessEmitter process_count values (default: 1,2,4 in the full run, else 1,2)",
    )
    parser.add_argument("--repeats", type=int, help="repetitions per scenario")
    parser.add_argument(
        "--no-anchor", action="store_true", help="skip the snowplow-tracker 1.1.0 variants"
    )
    parser.add_argument(
        "--no-services", action="store_true", help="skip the Redis and Celery variants"
    )
    parser.add_argument("--out", type=Path, help="output folder (default perf/results/latest)")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="also copy the report to perf/RESULTS.md and perf/chart.png (linked by the README)",
    )
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Turn the parsed options into :class:`Settings` (raises SystemExit on bad values)."""
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    counts = MODES[mode]
    args.process_counts = args.process_counts or counts["process_counts"]
    try:
        process_counts = [int(x) for x in _csv(args.process_counts)]
    except ValueError:
        raise SystemExit(
            f"--process-counts: integers expected, got {args.process_counts!r}"
        ) from None
    if not process_counts or any(c < 1 for c in process_counts):
        raise SystemExit("--process-counts: positive integers expected")
    known = all_variants(process_counts)
    by_name = {v.name: v for v in known}
    if args.variants:
        names = _csv(args.variants)
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise SystemExit(f"--variants: unknown {unknown}; known: {', '.join(by_name)}")
        variants = [by_name[n] for n in names]
    elif mode == "smoke":
        variants = [v for v in known if v.name in SMOKE_PLAN]
    else:
        variants = known
    if args.no_anchor:
        variants = [v for v in variants if v.lib != "anchor"]
    if args.no_services:
        variants = [v for v in variants if not v.needs]
    scenarios = _csv(args.scenarios) if args.scenarios else list(ALL_SCENARIOS)
    bad = [s for s in scenarios if s not in ALL_SCENARIOS]
    if bad:
        raise SystemExit(f"--scenarios: unknown {bad}; known: {', '.join(ALL_SCENARIOS)}")
    for name in ("events", "caller_events", "repeats"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SystemExit(f"--{name.replace('_', '-')}: must be positive")
    return Settings(
        mode=mode,
        scenarios=scenarios,
        variants=variants,
        caller_events=args.caller_events or int(counts["caller"]),
        throughput_events=args.events or int(counts["throughput"]),
        slowdown_seconds=float(counts["slowdown"]),
        slowdown_rate=10_000.0,
        latency_events=int(counts["latency"]),
        latency_rate=1000.0,
        repeats=args.repeats or int(counts["repeats"]),
        warmup=int(counts["warmup"]),
        out=args.out or ROOT / "perf" / "results" / "latest",
        burst_events=int(counts["burst"]),
        outage_events=int(counts["outage"]),
        settle_seconds=float(counts["settle"]),
        recover_seconds=float(counts["recover"]),
        delay_seconds=float(counts["delay"]),
        ramp_seconds=float(counts["ramp"]),
        kinds_events=int(counts["kinds"]),
        plan=dict(SMOKE_PLAN) if mode == "smoke" and not args.variants else None,
    )


def problems(results: Dict[str, Any]) -> List[str]:
    """Why the run failed: errors, and events this project's variants lost.

    The anchor's losses are reported, not failures (1.1.0 drops beyond its buffer capacity
    during an outage and counts nothing). A latency run whose sink did not see every event
    lost events too.
    """
    found = list(results["errors"])
    for name, row in results["summary"].items():
        if results["variants"][name]["lib"] != "ours":
            continue
        if row.get("lost"):
            found.append(f"{name}: {row['lost']} events lost")
        if row.get("latency_received") != row.get("latency_expected"):
            found.append(
                f"{name}: the latency sink saw {row.get('latency_received')} of "
                f"{row.get('latency_expected')} events"
            )
    return found


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the suite; exit status 1 when a step failed or this project lost an event."""
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    if args.list:
        for v in all_variants([int(x) for x in _csv(args.process_counts)]):
            print(f"{v.name:<22} {v.description}")
            print(f"{'':<22} scenarios: {', '.join(v.scenarios)}; options: {v.emitter_options()}")
        return 0
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so that every `finally` stops what
    # the suite started (collectors, redis-server, workers) instead of leaving it running.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    results, out = run(settings)
    if args.publish:
        report.publish(out, ROOT)
    print((out / "results.md").read_text())
    found = problems(results)
    if found:
        print("perf: FAILED:\n  " + "\n  ".join(found), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
