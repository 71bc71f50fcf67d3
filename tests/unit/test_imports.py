"""Importing the library is cheap: no Celery, no Redis client library, no Prometheus client, no
app, no connection.

Each check runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys, threading
{imports}
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0]
    in ("celery", "kombu", "redis", "billiard", "amqp", "vine", "prometheus_client")
)
print(json.dumps({{"heavy": heavy, "threads": threading.active_count()}}))
"""


def probe(imports: str, **env: str) -> Dict[str, Any]:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(imports=imports)],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_importing_the_package_imports_neither_celery_nor_redis() -> None:
    result = probe("import snowplow_tracker")
    assert result == {"heavy": [], "threads": 1}


def test_the_celery_and_redis_modules_import_their_libraries_lazily() -> None:
    result = probe(
        "import snowplow_tracker.emitters.celery.emitter, snowplow_tracker.emitters.redis.emitter, "
        "snowplow_tracker.emitters.redis.worker\n"
        "from snowplow_tracker import CeleryEmitter, RedisEmitter, RedisWorker, AsyncEmitter\n"
        "e = CeleryEmitter('collector.example.com', buffer_size=5)\n"
        "r = RedisEmitter(url='redis://:pw@127.0.0.1:1/0', buffer_size=5)\n"
        "w = RedisWorker(AsyncEmitter('collector.example.com'), url='redis://127.0.0.1:1/0')\n"
        "assert e.stats().queued == 0 and 'pw' not in repr(r) and repr(w)"
    )
    assert result["heavy"] == []


def test_no_celery_app_exists_until_the_emitter_publishes() -> None:
    result = probe(
        "from snowplow_tracker import CeleryEmitter\n"
        "e = CeleryEmitter('collector.example.com')\n"
        "assert 'celery' not in sys.modules\n"
        "import celery._state\n"
        "assert not list(celery._state._get_active_apps()), 'an app was created'"
    )
    assert "celery" in result["heavy"]  # imported by the probe itself, after the checks


def test_the_worker_app_module_creates_its_app_without_connecting() -> None:
    # Port 1 refuses connections: a connection attempt at import would fail or hang.
    result = probe(
        "from snowplow_tracker.emitters.celery.worker_app import app\n"
        "assert app.conf.broker_url == 'redis://127.0.0.1:1/0'\n"
        "assert 'snowplow_tracker.send_events' in app.tasks",
        SNOWPLOW_CELERY_BROKER_URL="redis://127.0.0.1:1/0",
    )
    assert "celery" in result["heavy"] and "redis" not in result["heavy"]


def test_celery_finds_the_default_app_in_the_emitters_package() -> None:
    """``celery -A snowplow_tracker.emitters worker`` (the 0.4 to 0.7 docs' command) works."""
    result = probe(
        "import snowplow_tracker.emitters\n"
        "import celery._state\n"
        "assert not list(celery._state._get_active_apps()), 'importing created an app'\n"
        "from celery.app.utils import find_app\n"
        "app = find_app('snowplow_tracker.emitters')\n"
        "assert app.conf.broker_url == 'redis://127.0.0.1:1/0', app.conf.broker_url\n"
        "assert 'snowplow_tracker.send_events' in app.tasks",
        SNOWPLOW_CELERY_BROKER_URL="redis://127.0.0.1:1/0",
    )
    assert "redis" not in result["heavy"]
