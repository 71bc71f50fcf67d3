"""The performance suite's smoke run: ``python -m perf --smoke`` must keep working (CI)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMOKE_VARIANTS = {"emitter-get", "emitter-post", "async-post", "process-1", "process-2"}
SCENARIOS = {"caller", "throughput", "slowdown", "latency"}


@pytest.mark.timeout(120)
def test_perf_smoke_runs_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "perf"
    proc = subprocess.run(
        [sys.executable, "-m", "perf", "--smoke", "--out", str(out)],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert not results["errors"]
    assert set(results["summary"]) == SMOKE_VARIANTS
    for name, scenarios in results["raw"].items():
        assert set(scenarios) == SCENARIOS, name
        for scenario, result in scenarios.items():
            assert "error" not in result, (name, scenario, result.get("error"))
            assert all(rep["lost"] == 0 for rep in result["reps"]), (name, scenario)
    for name, row in results["summary"].items():
        assert row["lost"] == 0, name
        assert row["caller_cpu_us"]["median"] > 0, name
        assert row["throughput_eps"]["median"] > 0, name
        assert row["latency_received"] == row["latency_expected"], name
    assert (out / "results.md").read_text().startswith("# Performance")
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "chart.png").stat().st_size > 1000
