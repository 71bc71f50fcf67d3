"""The pure helpers of the perf suite's fleet scenario (``perf/fleet.py``, issue 19).

The scenario itself (gunicorn servers, a collector) runs in ``python -m perf --smoke``; these
tests cover how it names processes, groups a sender's modules, plans its servers and reads the
issue's targets from its rows.
"""

from __future__ import annotations

import sysconfig
from typing import Any, Dict, List

import pytest

from perf.fleet import (
    describe_roles,
    fleet_targets,
    last_gone_by_role,
    preload_plan,
    role_counts,
    role_of,
    role_totals,
    top_packages,
)

MASTER = 100
SPAWN = "python -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)"
#: A sender as ``ps`` shows it (its title), and as started (its arguments).
SENDER_TITLE = "snowplow-sender[host pid 101 #0] 127.0.0.1:9090"
SENDER_ARGS = (
    "python -P -m snowplow_tracker.emitters.process.sender_process "
    "snowplow-sender[host pid 101 #0] 127.0.0.1:9090 --fd 5"
)
TRACKER = "python -c from multiprocessing.resource_tracker import main;main(4)"


def _proc(pid: int, ppid: int, cmdline: str = "python -m gunicorn fleet_app:app") -> Dict[str, Any]:
    return {"pid": pid, "ppid": ppid, "cmdline": cmdline}


def test_roles_of_a_gunicorn_tree_with_senders() -> None:
    infos = [
        _proc(MASTER, 1),
        _proc(101, MASTER),
        _proc(102, MASTER),
        _proc(201, 101, SPAWN),
        _proc(202, 101, TRACKER),
        _proc(301, 201, "sleep 1"),
    ]
    assert [role_of(i, MASTER) for i in infos] == [
        "master",
        "worker",
        "worker",
        "sender",
        "resource tracker",
        "other",
    ]
    counts = role_counts(infos, MASTER)
    assert counts == {"master": 1, "worker": 2, "sender": 1, "resource tracker": 1, "other": 1}
    assert describe_roles(counts) == ("1 master, 2 workers, 1 sender, 1 resource tracker, 1 other")


def test_senders_are_named_by_their_title_or_their_arguments() -> None:
    infos = [_proc(201, 101, SENDER_TITLE), _proc(202, MASTER, SENDER_ARGS)]
    assert [role_of(i, MASTER) for i in infos] == ["sender", "sender"]
    shared = "snowplow-sender[shared /tmp/x/snowplow-tracker/0123-0.sock] 127.0.0.1:9090"
    assert role_of(_proc(203, 1, shared), MASTER) == "sender"  # outside the tree


def test_a_module_imported_under_two_names_counts_once_under_the_shorter() -> None:
    stdlib = sysconfig.get_paths()["stdlib"]
    json_file = f"{stdlib}/json/__init__.py"
    modules = [
        ("requests.packages.urllib3", "/site-packages/urllib3/__init__.py"),
        ("urllib3", "/site-packages/urllib3/__init__.py"),
        ("requests", "/site-packages/requests/__init__.py"),
        ("json", json_file),
        ("sys", ""),
    ]
    groups = {g["package"]: g["modules"] for g in top_packages(modules, stdlib)}
    assert groups == {"urllib3": 1, "requests": 1, "(stdlib)": 1, "(built-in, no file)": 1}


def test_top_packages_sums_the_rest() -> None:
    modules = [(f"pkg{i}", "") for i in range(3)] + [("a.b", ""), ("a.c", "")]
    groups = top_packages(modules, "", top=1)
    assert groups == [
        {"package": "(built-in, no file)", "modules": 5, "bytes": 0},
    ]
    modules = [("a", "/x/a.so"), ("b", "/x/b.so"), ("c", "/x/c.so")]
    groups = top_packages(modules, "", top=1)
    assert [g["modules"] for g in groups] == [1, 2]
    assert groups[1]["package"] == "(others: 2 packages)"


def test_preload_plan() -> None:
    assert preload_plan([4, 8], "first") == [(4, False), (4, True), (8, False)]
    assert preload_plan([4, 8], "both") == [(4, False), (4, True), (8, False), (8, True)]
    assert preload_plan([2], "no") == [(2, False)]
    with pytest.raises(ValueError, match="preload_plan: preload must be"):
        preload_plan([2], "maybe")


def _row(variant: str, workers: int, processes: int, pss: float, **more: Any) -> Dict[str, Any]:
    row = {
        "variant": variant,
        "lib": "anchor" if variant.startswith("anchor") else "ours",
        "workers": workers,
        "preload": False,
        "processes": processes,
        "pss_mb": pss,
        "lost": 0,
        "duplicated": 0,
        "left_after_5s": {},
    }
    row.update(more)
    return row


def _targets(rows: List[Dict[str, Any]]) -> Dict[str, List[Any]]:
    return {f"{t[0]} / {t[1]}": t[2:] for t in fleet_targets(rows)}


def test_fleet_targets_read_from_the_rows() -> None:
    rows = [
        _row("noop", 4, 5, 60),
        _row("process", 4, 13, 202, lost=2),
        _row("anchor-async", 4, 5, 71),
        _row("noop", 8, 9, 110),
        _row("process", 8, 25, 390, left_after_5s={"sender": 1}),
    ]
    targets = targets_of_process_rows = _targets(rows)
    assert targets["PSS of the server / 1.1.0's / 4 workers"] == ["2.85", "<= 1.5", "**no**"]
    assert targets["processes added per worker / 4 workers"] == ["2", "<= 1", "**no**"]
    assert targets["lost / 4 workers"] == ["2", "0", "**no**"]
    assert targets["duplicated / 4 workers"] == ["0", "0", "yes"]
    assert targets["processes left 5 s after SIGTERM / 8 workers"] == ["1", "0", "**no**"]
    assert targets["processes added going from 4 to 8 workers / 8 workers"] == ["8", "0", "**no**"]
    # A shared pool: the same processes added whatever the workers.
    shared = [
        _row("noop", 4, 5, 60),
        _row("process", 4, 7, 90),
        _row("noop", 8, 9, 110),
        _row("process", 8, 11, 140),
    ]
    targets = _targets(shared)
    assert targets["processes added per worker / 4 workers"] == ["0.50", "<= 1", "yes"]
    assert targets["processes added going from 4 to 8 workers / 8 workers"] == ["0", "0", "yes"]
    # Each variant's targets from its own rows.
    both = [*rows, _row("process-shared", 4, 6, 100), _row("process-shared", 8, 10, 150)]
    shared_targets = {f"{t[0]} / {t[1]}": t[2:] for t in fleet_targets(both, "process-shared")}
    assert shared_targets["PSS of the server / 1.1.0's / 4 workers"] == ["1.41", "<= 1.5", "yes"]
    assert shared_targets["processes added per worker / 8 workers"] == ["0.12", "<= 1", "yes"]
    assert _targets(both) == targets_of_process_rows


def test_exit_times_per_role_only_for_roles_entirely_gone() -> None:
    roles = {1: "master", 2: "worker", 3: "worker", 4: "sender", 5: "sender"}
    gone_at = {1: 2.0, 2: 0.5, 3: 1.5, 4: 1.0}
    assert last_gone_by_role(roles, gone_at) == {"master": 2.0, "worker": 1.5}
    assert role_totals(["sender", "worker", "sender"]) == {"worker": 1, "sender": 2}
