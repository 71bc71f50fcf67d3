"""``snowplow_tracker.testing.RedisServer``, the launcher shared by the Redis tests and perf."""

import os
import socket

from snowplow_tracker.testing import RedisServer


def test_redis_server_answers_on_loopback_and_stops_cleanly() -> None:
    """It answers PING on 127.0.0.1 and, once stopped, the port is closed and its dir removed."""
    with RedisServer() as server:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert server.url_for(3).endswith("/3")
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(16).startswith(b"+PONG")
        workdir, process = server.workdir, server.process
    assert process is not None and process.poll() is not None
    assert not os.path.exists(workdir)
    server.stop()  # idempotent
