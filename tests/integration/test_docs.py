"""Every Python block of README.md and workers/README.md runs as written, so the docs cannot rot.

Each block is saved as a file (named by a ``# name.py`` first line, else ``block.py``) and run
with ``python FILE`` in a fresh interpreter, as a reader runs a saved example, against the
embedded collector and the test ``redis-server``. Only addresses change, by the literal
substitutions in :data:`SUBSTITUTIONS` (a collector host becomes the local collector's
``127.0.0.1:PORT`` over http, a Redis URL the test Redis); a block naming any other host in
:data:`FOREIGN` fails, so that a new example gets a substitution rather than a network call.

What each block must do:

- exit 0 within :data:`TIMEOUT` seconds;
- print each ``TEXT`` of an ``<!-- output: TEXT -->`` comment right above it;
- if it tracks events: the collector received exactly one event per ``.track...(`` call in the
  block, with no bad request (a ``RedisEmitter`` or ``CeleryEmitter`` block: the Redis list or
  Celery queue ``snowplow`` holds them instead);
- a Flask app (``from flask import``) is served by the ``gunicorn`` command of the shell block
  right after it (only ``--bind`` is added), asked once per ``curl`` line of that block, five
  times, and stopped with SIGTERM: the collector received one event per request.

A block that is deliberately incomplete carries ``<!-- fragment -->`` right above it and is left
out when the tests are collected (never skipped).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from snowplow_tracker.testing import Collector
from tests.scripts import ROOT, run_file
from tests.waiting import wait_until

DOCS = ("README.md", "workers/README.md")
TIMEOUT = 60.0
FRAGMENT = "fragment"
OUTPUT = "output:"

# (text in the docs, replacement): {collector} is 127.0.0.1:PORT, {redis} the test Redis URL.
SUBSTITUTIONS: Tuple[Tuple[str, str], ...] = (
    ("https://collector.example.com", "http://{collector}"),
    ("collector.example.com", "{collector}"),
    ('protocol="https"', 'protocol="http"'),
    ("redis://:PASSWORD@redis.internal:6379/0", "{redis}"),
    ("redis://redis.internal:6379/0", "{redis}"),
    ("redis://localhost:6379/0", "{redis}"),
)
# Hosts that must not be left in a block once substituted.
FOREIGN = ("example.com", "redis.internal", "localhost:6379", "https://")
TRACK_CALL = re.compile(r"\.track(?:_\w+)?\(")
FILE_NAME = re.compile(r"^#\s*(\w+\.py)\b")
HTML_COMMENT = re.compile(r"^<!--\s*(.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block of a document."""

    doc: str
    line: int
    code: str
    markers: Tuple[str, ...]
    shell_after: Optional[str]

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def file_name(self) -> str:
        found = FILE_NAME.match(self.code)
        return found[1] if found else "block.py"

    @property
    def outputs(self) -> List[str]:
        return [m[len(OUTPUT) :].strip() for m in self.markers if m.startswith(OUTPUT)]


def read_blocks(doc: str, text: Optional[str] = None) -> List[Block]:
    """The ``python`` blocks of ``doc`` with the HTML comments right above each and the shell
    block (``sh`` or ``bash``) that follows it directly, if any.

    Args:
        doc: The document's path in the repository.
        text: Its text (read from the file if None).
    """
    if text is None:
        text = (ROOT / doc).read_text(encoding="utf-8")
    lines = text.splitlines()
    fences: List[Tuple[int, str, str]] = []  # (line index of the opening fence, lang, body)
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang = lines[i][3:].strip()
            end = lines.index("```", i + 1)
            fences.append((i, lang, "\n".join(lines[i + 1 : end]) + "\n"))
            i = end + 1
        else:
            i += 1
    blocks = []
    for n, (start, lang, body) in enumerate(fences):
        if lang != "python":
            continue
        markers = []
        j = start - 1
        while j >= 0 and (not lines[j].strip() or HTML_COMMENT.match(lines[j].strip())):
            comment = HTML_COMMENT.match(lines[j].strip())
            if comment:
                markers.append(comment[1])
            j -= 1
        shell_after = None
        if n + 1 < len(fences):
            next_start, next_lang, next_body = fences[n + 1]
            end = start + body.count("\n") + 1
            between = lines[end + 1 : next_start]
            if next_lang in ("sh", "bash") and not any(s.strip() for s in between):
                shell_after = next_body
        blocks.append(Block(doc, start + 1, body, tuple(markers), shell_after))
    return blocks


def runnable(blocks: List[Block]) -> List[Block]:
    """The blocks not marked as fragments: filtered at collection, so none is ever skipped."""
    return [b for b in blocks if FRAGMENT not in b.markers]


BLOCKS = runnable([b for doc in DOCS for b in read_blocks(doc)])


def localize(code: str, collector: Collector, redis_url: str) -> str:
    """The block with the documented addresses replaced by the test's."""
    for old, new in SUBSTITUTIONS:
        code = code.replace(old, new.format(collector=collector.endpoint, redis=redis_url))
    leftovers = [host for host in FOREIGN if host in code.replace("https://shop.example", "")]
    assert not leftovers, f"the block names {leftovers}: add a substitution to SUBSTITUTIONS"
    return code


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_blocks_markers_and_fragments_are_read() -> None:
    """Markers right above a fence are read; a fragment is left out; the shell block right
    after a Python block is attached to it."""
    text = "\n".join(
        [
            "<!-- fragment -->",
            "```python",
            "emitter.input(event)",
            "```",
            "",
            "<!-- output: hello -->",
            "",
            "```python",
            "# app.py",
            "print('hello')",
            "```",
            "",
            "```sh",
            "gunicorn app:app",
            "```",
        ]
    )
    blocks = read_blocks("doc.md", text)
    assert [(b.line, b.markers) for b in blocks] == [(2, ("fragment",)), (8, ("output: hello",))]
    (kept,) = runnable(blocks)
    assert kept.outputs == ["hello"]
    assert kept.file_name == "app.py"
    assert kept.shell_after == "gunicorn app:app\n"


def test_the_docs_python_blocks_are_found() -> None:
    """The parser finds the blocks (a broken parser would make the test below vacuous)."""
    assert len([b for b in BLOCKS if b.doc == "README.md"]) >= 8
    assert len([b for b in BLOCKS if b.doc == "workers/README.md"]) >= 6
    assert any(b.outputs for b in BLOCKS)
    assert any(b.file_name == "app.py" and b.shell_after for b in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_block_runs_as_written(
    block: Block, collector: Collector, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    needs_redis = re.search(r"redis|celery", block.code, re.I) is not None
    redis_client = request.getfixturevalue("redis_client") if needs_redis else None
    redis_url = request.getfixturevalue("redis_server").url if needs_redis else "redis://unused"
    path = tmp_path / block.file_name
    path.write_text(localize(block.code, collector, redis_url))
    env = {"SNOWPLOW_CELERY_BROKER_URL": redis_url} if needs_redis else {}

    if "from flask import" in block.code:
        _serve_with_gunicorn(block, path, collector)
        return

    proc = run_file(path, env=env)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"{block.id} failed:\n{err[-3000:]}"
    for text in block.outputs:
        assert text in out + err, f"{block.id} did not print {text!r}:\n{out}\n{err}"

    tracked = len(TRACK_CALL.findall(block.code))
    if not tracked:
        return
    if "RedisEmitter" in block.code or "CeleryEmitter" in block.code:
        assert redis_client is not None
        assert redis_client.llen("snowplow") >= 1, f"{block.id} pushed nothing to Redis"
    else:
        assert collector.wait_for_events(tracked), f"{block.id}: {len(collector.events)} events"
        assert len(collector.events) == tracked
        assert collector.bad_requests == 0


def _serve_with_gunicorn(block: Block, app_file: Path, collector: Collector) -> None:
    """Run the block's ``gunicorn`` command on a free port, ``curl`` it, stop it (SIGTERM)."""
    assert block.shell_after, f"{block.id}: a Flask app needs its gunicorn command right after"
    commands = [shlex.split(line, comments=True) for line in block.shell_after.splitlines()]
    (gunicorn,) = [c for c in commands if c and c[0] == "gunicorn"]
    curls = [c for c in commands if c and c[0] == "curl"]
    assert curls, f"{block.id}: show a request (curl) after the gunicorn command"
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", *gunicorn[1:], "--bind", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        argv,
        cwd=app_file.parent,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    requests_sent = 0
    try:
        assert wait_until(lambda: _accepts(port), timeout=30), "gunicorn did not listen"
        for curl in curls:
            method = curl[curl.index("-X") + 1] if "-X" in curl else "GET"
            url = next(a for a in curl[1:] if a.startswith("http"))
            path = "/" + url.split("://", 1)[1].split("/", 1)[1]
            for _ in range(5):
                req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
                with urllib.request.urlopen(req, timeout=10) as response:
                    assert response.status == 200
                requests_sent += 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out[-3000:]
    # Delivered by the workers' exit hooks at the latest: nothing was flushed by hand.
    assert collector.wait_for_events(requests_sent, timeout=5), out[-3000:]
    assert len(collector.events) == requests_sent
    assert collector.bad_requests == 0


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        time.sleep(0.05)
        return False
