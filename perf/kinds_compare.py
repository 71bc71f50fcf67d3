"""``python -m perf.kinds_compare``: every ``track_*`` kind's caller cost, before and after.

Measures the per-call CPU cost of each event kind of the :mod:`scenarios_kinds` scenario (same
calls, same subject, namespace, app id and context, a no-op emitter) for two versions of
``snowplow_tracker`` in the same run: an older commit (default ``e33736b^``, the hand-written
``track_*`` methods before the event descriptions) and the working tree.

The old package is exported with ``git archive <ref> snowplow_tracker | tar -x`` into a
temporary folder. Each side runs in a child process of its own (``PYTHONPATH`` = that tree),
started once and driven in lockstep: for every repetition and kind, the parent asks the old
child for the kind and for the old ``track_struct_event`` and the new child for the kind,
alternating which side goes first, so that a change of the machine's load hits both sides
alike. Figures are medians over the repetitions; the ratios are medians of the per-repetition
ratios (each from measurements taken next to each other). Kinds that emit several events per
call (the transaction: 1 + 2 items) are shown per event emitted.

Examples::

    python -m perf.kinds_compare
    python -m perf.kinds_compare --ref e33736b^ --calls 3000 --repeat 15
    python -m perf.kinds_compare --json /tmp/kinds.json
    python -m perf.kinds_compare --repeat 15 --publish   # also into perf/RESULTS.md

``--publish`` writes the table into ``perf/RESULTS.md`` between two markers (replacing an
earlier one, else before the targets section). ``python -m perf --publish`` rewrites that file
from its own run, without this section: run this command again afterwards.

The child side (``--child``) runs this file as a script, so that ``harness`` and
``scenarios_kinds`` import as top-level modules, as in :mod:`perf.worker`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STRUCT = "struct_event"


# ------------------------------------------------------------------------------ child


def child() -> None:
    """Answer ``{"kind": name, "n": calls}`` lines with ``{"us": µs per call or null}``."""
    import gc

    from harness import CONTEXT_SCHEMA, NoopEmitter, Target
    from scenarios_kinds import _cost, _kinds

    import snowplow_tracker
    from snowplow_tracker.self_describing_json import SelfDescribingJson

    tracker = Target.make_tracker(NoopEmitter())
    context = [SelfDescribingJson(CONTEXT_SCHEMA, {"suite": "perf", "variant": "noop", "shard": 7})]
    calls = {}
    for kind, method, args, events in _kinds(SelfDescribingJson):
        fn = getattr(tracker, method, None)
        if fn is not None:
            calls[kind] = (fn, args, events)
    hello = {"file": snowplow_tracker.__file__, "kinds": {k: c[2] for k, c in calls.items()}}
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        ask = json.loads(line)
        found = calls.get(ask["kind"])
        us: Optional[float] = None
        if found is not None:
            fn, args, _ = found
            fn(*args, context=context)  # first call outside the timing (caches)
            us = _cost(fn, args, context, int(ask["n"]))
        gc.collect()
        print(json.dumps({"us": us}), flush=True)


# ------------------------------------------------------------------------------ parent


class Side:
    """One child process timing one ``snowplow_tracker`` tree."""

    def __init__(self, name: str, tree: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(tree)
        env.pop("PYTHONSTARTUP", None)
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-s", str(Path(__file__).resolve()), "--child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=tempfile.gettempdir(),
            text=True,
        )
        hello = self._read()
        self.file: str = hello["file"]
        self.events: Dict[str, int] = hello["kinds"]
        if not self.file.startswith(str(tree)):
            self.close()
            raise SystemExit(f"{name}: imported {self.file}, not the tree {tree}")

    def _read(self) -> Dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"{self.name}: the timing child exited")
        result: Dict[str, Any] = json.loads(line)
        return result

    def cost(self, kind: str, n: int) -> Optional[float]:
        """CPU µs per call of ``kind`` over ``n`` calls; None if this tree has no such method."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"kind": kind, "n": n}) + "\n")
        self.proc.stdin.flush()
        us: Optional[float] = self._read()["us"]
        return us

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def export_tree(ref: str, dest: Path) -> Path:
    """``git archive ref snowplow_tracker | tar -x -C dest``; returns ``dest``."""
    archive = subprocess.Popen(
        ["git", "archive", ref, "snowplow_tracker"], cwd=ROOT, stdout=subprocess.PIPE
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    assert archive.stdout is not None
    archive.stdout.close()
    if archive.wait() != 0:
        raise SystemExit(f"git archive {ref} failed")
    return dest


def measure(old: Side, new: Side, kinds: Sequence[str], n: int, repeat: int) -> Dict[str, Any]:
    """Per kind, the per-repetition ``before``, ``after`` and ``struct`` (old struct_event)."""
    runs: Dict[str, Dict[str, List[float]]] = {
        k: {"before": [], "after": [], "struct": []} for k in kinds
    }
    for rep in range(repeat):
        for i, kind in enumerate(kinds):
            steps = [("before", old, kind), ("struct", old, STRUCT), ("after", new, kind)]
            if (rep + i) % 2:
                steps.reverse()
            for label, side, name in steps:
                us = side.cost(name, n)
                if us is not None:
                    runs[kind][label].append(us)
        print(f"repetition {rep + 1}/{repeat} done", file=sys.stderr, flush=True)
    return runs


def _median(values: List[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def summarise(runs: Dict[str, Any], events: Dict[str, int]) -> List[Dict[str, Any]]:
    """One row per kind: medians (per event emitted) and medians of the paired ratios."""
    rows = []
    for kind, r in runs.items():
        per = events.get(kind, 1)
        before = [b / per for b in r["before"]]
        after = [a / per for a in r["after"]]
        ratio = [a / b for a, b in zip(after, before)] if len(before) == len(after) else []
        vs_struct = [a / s for a, s in zip(after, r["struct"])]
        rows.append(
            {
                "kind": kind,
                "events": per,
                "before": _median(before),
                "after": _median(after),
                "after_before": _median(ratio),
                "after_struct": _median(vs_struct),
                "struct": _median(r["struct"]),
            }
        )
    return rows


def _num(x: Optional[float], fmt: str) -> str:
    return "—" if x is None else format(x, fmt)


def table(rows: List[Dict[str, Any]], ref: str) -> str:
    """The markdown table: kind | before µs | after µs | after/before | after / old struct."""
    lines = [
        f"| kind | before µs ({ref}) | after µs | after/before | after / before-struct_event |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        name = r["kind"] if r["events"] == 1 else f"{r['kind']} (per event, {r['events']}/call)"
        lines.append(
            f"| {name} | {_num(r['before'], '.2f')} | {_num(r['after'], '.2f')} "
            f"| {_num(r['after_before'], '.2f')} | {_num(r['after_struct'], '.2f')} |"
        )
    worst = [r for r in rows if r["after_struct"] is not None and r["after_struct"] > 1]
    lines.append("")
    lines.append(
        f"Old `track_struct_event`: {_num(_median([r['struct'] for r in rows]), '.2f')} µs/call "
        "(median over the run). Kinds slower than it: "
        + (", ".join(r["kind"] for r in worst) if worst else "none")
        + "."
    )
    return "\n".join(lines)


START, END = "<!-- kinds_compare -->", "<!-- /kinds_compare -->"


def publish(
    text: str, path: Path = HERE / "RESULTS.md", start: str = START, end: str = END
) -> None:
    """Put ``text`` (a markdown section) between the markers ``start`` and ``end`` in ``path``.

    Without the markers, the section goes before ``## Targets``, or at the end.
    """
    block = f"{start}\n{text}\n{end}\n"
    old = path.read_text() if path.exists() else ""
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end) + 1 :]
    elif "\n## Targets" in old:
        at = old.index("\n## Targets") + 1
        new = old[:at] + block + "\n" + old[at:]
    else:
        new = old + ("\n" if old else "") + block
    path.write_text(new)


def machine() -> str:
    """One line about the machine and the interpreter."""
    import platform

    return (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()} {platform.system()}"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m perf.kinds_compare", description=__doc__)
    ap.add_argument("--ref", default="e33736b^", help="the old commit (default e33736b^)")
    ap.add_argument("--calls", type=int, default=3000, help="calls per measurement")
    ap.add_argument("--repeat", type=int, default=11, help="repetitions (medians are taken)")
    ap.add_argument("--json", type=Path, help="also write every measurement to this file")
    ap.add_argument("--publish", action="store_true", help="also write the table into RESULTS.md")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.child:
        child()
        return 0
    with tempfile.TemporaryDirectory(prefix="kinds-compare-") as tmp:
        old_tree = export_tree(opts.ref, Path(tmp))
        old = Side("before", old_tree)
        new = Side("after", ROOT)
        try:
            kinds = list(new.events) + [k for k in old.events if k not in new.events]
            events = {**old.events, **new.events}
            runs = measure(old, new, kinds, opts.calls, opts.repeat)
        finally:
            old.close()
            new.close()
    rows = summarise(runs, events)
    if opts.json is not None:
        opts.json.write_text(json.dumps({"ref": opts.ref, "runs": runs, "rows": rows}, indent=1))
    command = (
        f"python -m perf.kinds_compare --ref {opts.ref} --calls {opts.calls} --repeat {opts.repeat}"
    )
    text = "\n".join(
        [
            "## Every event kind before and after the event descriptions (issue 11)",
            "",
            f"`{command}` ({machine()}; a no-op emitter, the suite's subject and context).",
            "",
            table(rows, opts.ref),
            "",
            "CPU µs per call on the calling thread, medians of the repetitions; both sides run in "
            "processes of their own, driven in lockstep, kind by kind, alternating which goes "
            "first. *after / before-struct_event*: each kind now against the old "
            "`track_struct_event` timed next to it (the median of the per-repetition ratios). "
            "On a shared or virtual machine single figures vary by ±20% between runs; the "
            "ratios, from neighbouring measurements, much less.",
        ]
    )
    print(text)
    if opts.publish:
        publish(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
