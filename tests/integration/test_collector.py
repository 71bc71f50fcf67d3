"""Integration tests of the embedded collector itself, over real HTTP on loopback."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from snowplow_tracker.testing import Collector, RecordedRequest

SCHEMA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
POST_PATH = "/com.snowplowanalytics.snowplow/tp2"
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
ROOT = Path(__file__).resolve().parents[2]
SHORT = (2.0, 2.0)


def payload(*events: Dict[str, str]) -> bytes:
    return json.dumps({"schema": SCHEMA, "data": list(events)}).encode()


def post(collector: Collector, body: bytes, **kwargs: Any) -> requests.Response:
    return requests.post(
        collector.url + POST_PATH, data=body, headers=JSON_HEADERS, timeout=SHORT, **kwargs
    )


def get(collector: Collector, path_and_query: str, **kwargs: Any) -> requests.Response:
    return requests.get(collector.url + path_and_query, timeout=SHORT, **kwargs)


def collector_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("snowplow-collector")]


@pytest.fixture(autouse=True)
def no_thread_leak() -> Iterator[None]:
    """Set up before the ``collector`` fixture, so torn down after it stopped the collector."""
    yield
    deadline = time.monotonic() + 2.0
    while collector_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not collector_threads()


def test_get_event_is_decoded_with_non_ascii_values_and_both_space_encodings(
    collector: Collector,
) -> None:
    query = "e=pv&page=Caf%C3%A9+%E2%9C%93&refr=a%20b&url=http%3A%2F%2Fx%2F%3Fq%3D1%26r%3D2&empty="
    response = get(collector, "/i?" + query)

    assert response.status_code == 200
    assert response.headers["Content-Length"] == "0"
    assert collector.events == [
        {"e": "pv", "page": "Café ✓", "refr": "a b", "url": "http://x/?q=1&r=2", "empty": ""}
    ]
    (recorded,) = collector.requests
    assert isinstance(recorded, RecordedRequest)
    assert (recorded.method, recorded.path, recorded.query, recorded.status) == (
        "GET",
        "/i",
        query,
        200,
    )
    assert recorded.headers["Host"] == collector.endpoint
    assert recorded.accepted
    assert abs(recorded.received_at - time.time()) < 5


def test_post_batch_is_decoded_in_order(collector: Collector) -> None:
    events = [{"e": "se", "se_ca": "c", "eid": f"id-{i}", "tv": "py", "p": "srv"} for i in range(3)]
    body = payload(*events)

    response = post(collector, body)

    assert response.status_code == 200
    assert collector.events == events
    assert collector.eids() == ["id-0", "id-1", "id-2"]
    (recorded,) = collector.requests
    assert recorded.body == body
    assert recorded.headers["Content-Type"] == JSON_HEADERS["Content-Type"]
    assert list(recorded.events) == events
    assert collector.stats()["events"] == 3
    assert collector.bad_requests == 0


def test_post_with_non_ascii_escaped_or_raw_utf8_is_decoded(collector: Collector) -> None:
    post(collector, json.dumps({"schema": SCHEMA, "data": [{"e": "pv", "page": "é"}]}).encode())
    raw = '{"schema":"' + SCHEMA + '","data":[{"e":"pv","page":"é ✓"}]}'
    post(collector, raw.encode("utf-8"))

    assert [e["page"] for e in collector.events] == ["é", "é ✓"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"schema": "iglu:com.acme/other/jsonschema/1-0-0", "data": [{"e": "pv"}]}),
        json.dumps({"schema": SCHEMA, "data": []}),
        json.dumps({"schema": SCHEMA, "data": {"e": "pv"}}),
        json.dumps({"schema": SCHEMA, "data": ["pv"]}),
        json.dumps({"schema": SCHEMA, "data": [{"e": "se", "se_va": 2.5}]}),
        b"",
    ],
    ids=["not-json", "array", "schema", "empty", "object", "not-object", "number", "no-body"],
)
def test_bad_post_body_answers_400_and_is_counted(collector: Collector, body: Any) -> None:
    response = post(collector, body.encode() if isinstance(body, str) else body)

    assert response.status_code == 400
    assert collector.bad_requests == 1
    assert collector.stats()["bad_requests"] == 1
    assert collector.events == []
    assert [r.status for r in collector.requests] == [400]


def test_get_without_querystring_answers_400(collector: Collector) -> None:
    assert get(collector, "/i").status_code == 400
    assert collector.bad_requests == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/ice.png?e=pv", 404), ("POST", "/tp2", 404), ("GET", POST_PATH, 405)],
)
def test_unknown_path_answers_404_and_wrong_method_405(
    collector: Collector, method: str, path: str, status: int
) -> None:
    response = requests.request(method, collector.url + path, timeout=SHORT)

    assert response.status_code == status
    assert collector.events == []
    assert collector.bad_requests == 1
    assert collector.requests[0].path == path.partition("?")[0]


def test_scripted_statuses_are_used_in_order_then_the_default(collector: Collector) -> None:
    collector.respond_with(201)
    collector.script([503, 503, 200])

    statuses = [post(collector, payload({"e": "pv", "eid": str(i)})).status_code for i in range(5)]

    assert statuses == [503, 503, 200, 201, 201]
    assert [r.status for r in collector.requests] == statuses
    assert collector.eids() == ["2", "3", "4"]
    stats = collector.stats()
    assert (stats["events"], stats["rejected_events"], stats["bad_requests"]) == (3, 2, 0)


def test_302_counts_as_accepted_and_points_to_a_harmless_location(collector: Collector) -> None:
    collector.respond_with(302)

    response = post(collector, payload({"e": "pv"}), allow_redirects=False)
    followed = get(collector, "/i?e=se")

    assert response.status_code == 302
    assert response.headers["Content-Length"] == "0"
    assert followed.status_code == 200  # requests followed the Location to a control path
    assert [r.status_code for r in followed.history] == [302]
    assert [e["e"] for e in collector.events] == ["pv", "se"]
    assert len(collector.requests) == 2  # the redirect target is not recorded


def test_fault_reset_resets_the_connection_and_records_no_event(collector: Collector) -> None:
    collector.set_fault("reset")

    with pytest.raises(requests.ConnectionError) as info:
        post(collector, payload({"e": "pv"}))

    assert "reset" in str(info.value).lower()
    assert collector.events == []
    assert [r.status for r in collector.requests] == [0]
    assert collector.stats()["rejected_events"] == 1


def test_fault_garbage_answers_non_http_and_records_no_event(collector: Collector) -> None:
    collector.set_fault("garbage")

    with pytest.raises(requests.ConnectionError, match="BadStatusLine"):
        get(collector, "/i?e=pv")

    assert collector.events == []
    assert [r.status for r in collector.requests] == [0]


def test_fault_hang_never_answers_and_records_no_event(collector: Collector) -> None:
    collector.set_fault("hang")

    with pytest.raises(requests.ReadTimeout):
        requests.get(collector.url + "/i?e=pv", timeout=(2.0, 0.2))

    assert collector.events == []
    assert [r.status for r in collector.requests] == [0]
    collector.set_fault(None)
    assert get(collector, "/i?e=pv").status_code == 200


def test_hanging_request_ends_when_the_client_gives_up(collector: Collector) -> None:
    collector.set_fault("hang")
    with pytest.raises(requests.ReadTimeout):
        requests.get(collector.url + "/i?e=pv", timeout=(2.0, 0.1))

    deadline = time.monotonic() + 2.0
    while any("-conn-" in t.name for t in collector_threads()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any("-conn-" in t.name for t in collector_threads())


def test_unreadable_body_answers_400_or_413_and_is_counted(collector: Collector) -> None:
    for length, status in ((b"-1", b"400"), (b"x", b"400"), (b"999999999", b"413")):
        with socket.create_connection((collector.host, collector.port), timeout=2.0) as raw:
            raw.sendall(
                b"POST " + POST_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: " + length + b"\r\n\r\n"
            )
            answer = b""
            while chunk := raw.recv(4096):  # the collector closes the connection
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 " + status)
        assert b"\r\nContent-Length: " in answer
    assert collector.bad_requests == 3
    assert [r.status for r in collector.requests] == [400, 400, 413]


def test_fault_in_a_script_is_used_once(collector: Collector) -> None:
    collector.script(["reset", 200])

    with pytest.raises(requests.ConnectionError):
        get(collector, "/i?e=pv&eid=1")
    get(collector, "/i?e=pv&eid=2")

    assert collector.eids() == ["2"]


def test_stop_ends_a_hanging_request_and_open_keep_alive_connections() -> None:
    collector = Collector().start()
    session = requests.Session()
    try:
        session.get(collector.url + "/i?e=pv", timeout=SHORT)  # leaves an idle connection open
        collector.set_fault("hang")
        result: queue.Queue[BaseException] = queue.Queue()

        def hang() -> None:
            try:
                requests.get(collector.url + "/i?e=pv", timeout=(2.0, 5.0))
            except requests.RequestException as exc:
                result.put(exc)

        client = threading.Thread(target=hang)
        client.start()
        assert collector.wait_for_requests(2, timeout=2.0)
        started = time.monotonic()
        collector.stop()
        collector.stop()  # idempotent

        assert time.monotonic() - started < 2.0
        client.join(2.0)
        assert isinstance(result.get(timeout=1.0), requests.ConnectionError)
        assert not collector_threads()
        assert not collector.running
    finally:
        session.close()
        collector.stop()


def test_delay_postpones_the_answer(collector: Collector) -> None:
    collector.set_delay(0.2)

    started = time.monotonic()
    response = get(collector, "/i?e=pv")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_keep_alive_serves_several_requests_on_one_connection(collector: Collector) -> None:
    connection = http.client.HTTPConnection(collector.host, collector.port, timeout=2.0)
    try:
        sockets = []
        for i in range(3):
            connection.request("POST", POST_PATH, payload({"e": "pv", "eid": str(i)}), JSON_HEADERS)
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"")
            assert response.getheader("Content-Length") == "0"
            sockets.append(connection.sock)
        assert sockets[0] is not None
        assert sockets == [sockets[0]] * 3
    finally:
        connection.close()
    assert collector.eids() == ["0", "1", "2"]


def test_chunked_post_body_is_decoded(collector: Collector) -> None:
    body = payload({"e": "pv", "eid": "c1"}, {"e": "pv", "eid": "c2"})

    response = requests.post(
        collector.url + POST_PATH,
        data=iter([body[:10], body[10:]]),
        headers=JSON_HEADERS,
        timeout=SHORT,
    )

    assert response.status_code == 200
    assert collector.eids() == ["c1", "c2"]


def test_wait_for_events_returns_true_once_enough_events_arrived(collector: Collector) -> None:
    sender = threading.Timer(0.1, post, args=(collector, payload({"e": "pv"}, {"e": "se"})))
    sender.start()
    try:
        assert collector.wait_for_events(2, timeout=5.0)
    finally:
        sender.join()


def test_wait_for_events_returns_false_on_timeout(collector: Collector) -> None:
    post(collector, payload({"e": "pv"}))
    collector.script([503])
    post(collector, payload({"e": "pv"}))  # rejected: does not count

    started = time.monotonic()
    assert not collector.wait_for_events(2, timeout=0.2)
    assert time.monotonic() - started >= 0.2
    assert collector.wait_for_events(1, timeout=0.2)


def test_count_mode_counts_events_and_duplicate_eids(counting_collector: Collector) -> None:
    collector = counting_collector
    post(collector, payload({"e": "pv", "eid": "a"}, {"e": "se", "eid": "b"}, {"e": "pv"}))
    # python's json.dumps puts a space after the colon: the eid regex allows it
    post(collector, b'{"schema": "%s", "data": [{"e": "pv", "eid": "a"}]}' % SCHEMA.encode())
    get(collector, "/i?e=pv&eid=b")
    collector.script([500])
    post(collector, payload({"e": "pv", "eid": "c"}))  # rejected: not counted
    post(collector, b"garbage")

    assert collector.wait_for_events(5, timeout=2.0)
    stats = collector.stats()
    counts = (stats["requests"], stats["events"], stats["unique_eids"], stats["duplicates"])
    assert counts == (5, 5, 2, 2)
    assert (stats["rejected_events"], stats["bad_requests"]) == (1, 1)
    assert stats["cpu_seconds"] >= 0
    assert sorted(collector.eids()) == ["a", "b"]
    assert collector.events == []
    assert collector.requests == []


def test_clear_forgets_data_but_keeps_the_script(collector: Collector) -> None:
    collector.script([503, 503])
    post(collector, payload({"e": "pv"}))
    collector.clear()

    assert collector.requests == []
    assert collector.stats()["requests"] == 0
    assert post(collector, payload({"e": "pv"})).status_code == 503


def test_stats_control_and_reset_over_http(collector: Collector) -> None:
    with requests.Session() as http:
        url = collector.url
        control = http.post(
            url + "/_control",
            json={"status": 201, "script": [503, "reset"], "delay": 0, "fault": None},
            timeout=SHORT,
        )
        assert control.status_code == 200
        assert control.json()["script"] == [503, "reset"]
        assert http.post(url + "/_control", json={"status": 99}, timeout=SHORT).status_code == 400
        assert http.post(url + "/_control", json={"nope": 1}, timeout=SHORT).status_code == 400

        assert http.get(url + "/i?e=pv&eid=1", timeout=SHORT).status_code == 503
        with pytest.raises(requests.ConnectionError):
            http.get(url + "/i?e=pv&eid=2", timeout=SHORT)
        assert http.get(url + "/i?e=pv&eid=3", timeout=SHORT).status_code == 201

        stats = http.get(url + "/_stats", timeout=SHORT).json()
        assert (stats["requests"], stats["events"], stats["rejected_events"]) == (3, 1, 2)
        assert http.get(url + "/_control", timeout=SHORT).json() == {
            "status": 201,
            "location": "/_redirected",
            "delay": 0.0,
            "script": [],
            "fault": None,
            "retry_after": None,
            "retry_after_date": False,
        }
        assert http.get(url + "/_events", timeout=SHORT).json() == [{"e": "pv", "eid": "3"}]

        assert http.post(url + "/_reset", timeout=SHORT).json() == {"ok": True}
        assert collector.control()["status"] == 200
        stats = http.get(url + "/_stats", timeout=SHORT).json()
        assert (stats["requests"], stats["events"], stats["bad_requests"]) == (0, 0, 0)
    assert collector.requests == []  # control paths are never recorded


def test_retry_after_is_sent_with_429_and_503_as_set_in_process_or_over_http(
    collector: Collector,
) -> None:
    """Delta-seconds, an HTTP-date that many seconds ahead, or a raw value; never on others."""
    url = collector.url
    with requests.Session() as http:
        http.post(url + "/_control", json={"retry_after": 2, "script": [503, 429, 500]})
        answers = [http.get(url + f"/i?e=pv&eid={i}", timeout=SHORT) for i in range(4)]
        assert [r.status_code for r in answers] == [503, 429, 500, 200]
        assert [r.headers.get("Retry-After") for r in answers] == ["2", "2", None, None]

        http.post(url + "/_control", json={"retry_after_date": True, "script": [429]})
        answer = http.get(url + "/i?e=pv&eid=9", timeout=SHORT)
        ahead = parsedate_to_datetime(answer.headers["Retry-After"]).timestamp() - time.time()
        assert 0 < ahead <= 2
        assert http.get(url + "/_control", timeout=SHORT).json()["retry_after_date"] is True
        bad = http.post(url + "/_control", json={"retry_after": -1}, timeout=SHORT)
        assert bad.status_code == 400
    collector.set_retry_after("soon")
    collector.script([429])
    assert requests.get(url + "/i?e=pv&eid=10", timeout=SHORT).headers["Retry-After"] == "soon"
    collector.reset()
    assert collector.control()["retry_after"] is None
    with pytest.raises(ValueError, match="Retry-After"):
        collector.set_retry_after(1.5)  # type: ignore[arg-type]


def test_invalid_settings_raise_value_error() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Collector(host="0.0.0.0")
    with pytest.raises(ValueError, match="mode"):
        Collector(mode="fast")
    collector = Collector()
    with pytest.raises(ValueError, match="status"):
        collector.respond_with(99)
    with pytest.raises(ValueError, match="fault"):
        collector.set_fault("boom")
    with pytest.raises(ValueError, match="status"):
        collector.script([200, True])
    with pytest.raises(ValueError, match="delay"):
        collector.set_delay(-1)
    with pytest.raises(RuntimeError):
        _ = collector.port


def test_addresses_once_started(collector: Collector) -> None:
    assert collector.host == "127.0.0.1"
    assert collector.port > 0
    assert collector.endpoint == f"127.0.0.1:{collector.port}"
    assert collector.url == f"http://127.0.0.1:{collector.port}"
    with pytest.raises(RuntimeError):
        collector.start()


def _read_lines(stream: Any, lines: queue.Queue[Optional[str]]) -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode("utf-8").rstrip("\n"))
    lines.put(None)


def test_command_prints_listening_line_serves_and_exits_0_on_sigterm() -> None:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    command = [sys.executable, "-m", "snowplow_tracker.testing", "--status", "200"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT
    ) as process:
        lines: queue.Queue[Optional[str]] = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:
            first = lines.get(timeout=10.0)
            assert first is not None and first.startswith("listening on http://127.0.0.1:")
            url = first[len("listening on ") :]

            assert requests.get(url + "/i?e=pv&page=caf%C3%A9", timeout=SHORT).status_code == 200
            assert json.loads(lines.get(timeout=5.0) or "") == {"e": "pv", "page": "café"}
            assert requests.get(url + "/_stats", timeout=SHORT).json()["events"] == 1

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=5.0) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        reader.join(5.0)
        rest = []
        while (line := lines.get(timeout=1.0)) is not None:
            rest.append(line)
        assert process.stderr is not None
        assert process.stderr.read() == b""
    (final,) = rest
    stats = json.loads(final)
    assert (stats["requests"], stats["events"], stats["bad_requests"]) == (1, 1, 0)
    assert stats["ru_maxrss_kb"] > 0


def test_socket_is_closed_after_stop() -> None:
    with Collector() as collector:
        port = collector.port
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass


def raw_answer(raw: socket.socket) -> bytes:
    """Everything the collector writes until it closes the connection."""
    answer = b""
    while chunk := raw.recv(4096):
        answer += chunk
    return answer


CHUNKED_HEAD = (
    b"POST " + POST_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: application/json\r\n\r\n"
)


def one_byte_chunks(body: bytes) -> bytes:
    return b"".join(b"1\r\n" + body[i : i + 1] + b"\r\n" for i in range(len(body))) + b"0\r\n\r\n"


@pytest.mark.parametrize("size", [b"-1", b"+1", b"0x1", b"1 1", b"", b"1" * 17])
def test_bad_chunk_size_answers_400_and_closes_the_connection(
    collector: Collector, size: bytes
) -> None:
    with socket.create_connection((collector.host, collector.port), timeout=2.0) as raw:
        # The client keeps its side open: a reader that reads "to the end" would wait for ever.
        raw.sendall(CHUNKED_HEAD + size + b"\r\n" + b"x" * 1000)
        answer = raw_answer(raw)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"bad chunked body" in answer
    assert b"Connection: close" in answer
    assert [r.status for r in collector.requests] == [400]


def test_chunk_framing_counts_against_the_body_cap() -> None:
    body = payload({"e": "pv", "eid": "x" * 200})
    with Collector(max_body=len(body) * 2) as small:
        with socket.create_connection((small.host, small.port), timeout=2.0) as raw:
            raw.sendall(CHUNKED_HEAD + one_byte_chunks(body))  # about 6 wire bytes per byte
            answer = raw_answer(raw)
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert small.events == []
        # The same body in one chunk fits.
        response = requests.post(
            small.url + POST_PATH, data=iter([body]), headers=JSON_HEADERS, timeout=SHORT
        )
        assert response.status_code == 200
        assert small.eids() == ["x" * 200]


def test_many_tiny_chunks_cost_about_the_size_of_the_body(collector: Collector) -> None:
    body = payload({"e": "pv", "eid": "tiny", "long": "y" * 200_000})
    wire = CHUNKED_HEAD + one_byte_chunks(body)  # 1.2 MB on the wire, 200,000 chunks
    tracemalloc.start()
    try:
        with socket.create_connection((collector.host, collector.port), timeout=30.0) as raw:
            raw.sendall(wire)
            raw.shutdown(socket.SHUT_WR)
            answer = raw_answer(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert collector.eids() == ["tiny"]
    # A few copies of the 200 kB body (buffer, bytes, decoded event); a list of one bytes
    # object per chunk alone would take more than 8 MB.
    assert peak < 3 * 1024 * 1024, peak


def closed_by_peer(raw: socket.socket, trickle: bool, limit: float) -> bool:
    """Whether the collector closes ``raw`` within ``limit`` seconds (sending a byte every
    0.05 s first when ``trickle``)."""
    raw.settimeout(0.05)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if trickle:
                raw.sendall(b"x")
            if raw.recv(4096) == b"":
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def test_idle_and_slow_clients_are_disconnected_after_the_timeout() -> None:
    with Collector(timeout=0.3) as quick:
        with socket.create_connection((quick.host, quick.port), timeout=2.0) as idle:
            assert closed_by_peer(idle, trickle=False, limit=5.0)
        with socket.create_connection((quick.host, quick.port), timeout=2.0) as slow:
            slow.sendall(b"POST " + POST_PATH.encode() + b" HTTP/1.1\r\nX-Slow: ")
            assert closed_by_peer(slow, trickle=True, limit=5.0)  # a byte every 0.05 s
        with socket.create_connection((quick.host, quick.port), timeout=2.0) as slow_body:
            slow_body.sendall(
                b"POST " + POST_PATH.encode() + b" HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"
            )
            assert closed_by_peer(slow_body, trickle=True, limit=5.0)
        # A client that keeps up is served as usual.
        assert post(quick, payload({"e": "pv", "eid": "ok"})).status_code == 200
        assert quick.eids() == ["ok"]


@pytest.mark.parametrize(
    "control",
    [
        {"delay": 1e300, "status": 503},
        {"delay": -1},
        {"delay": 3601},
        {"location": "/x\r\nSet-Cookie: a=b", "status": 302},
        {"location": 5},
        {"script": [200] * 100_001},
        {"script": 200},
        {"fault": "boom", "delay": 1},
    ],
)
def test_bad_control_answers_400_and_changes_nothing(
    collector: Collector, control: Dict[str, Any]
) -> None:
    collector.script([201])
    before = collector.control()
    response = requests.post(collector.url + "/_control", json=control, timeout=SHORT)
    assert response.status_code == 400
    assert response.text.startswith("bad control request: /_control: ")
    assert collector.control() == before
    assert get(collector, "/i?e=pv&eid=after").status_code == 201
    assert collector.eids() == ["after"]


def test_delay_setter_refuses_values_a_wait_cannot_take() -> None:
    collector = Collector()
    for bad in (1e300, float("inf"), float("nan"), 3600.5):
        with pytest.raises(ValueError, match="delay"):
            collector.set_delay(bad)
    collector.set_delay(3600)
    assert collector.control()["delay"] == 3600.0
    with pytest.raises(ValueError, match="location"):
        collector.respond_with(302, location="/a\nb")


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"timeout": True}, {"max_body": 0}])
def test_bad_timeout_or_body_cap_raises_value_error(kwargs: Dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Collector(**kwargs)
