"""TLS verified against real certificates, proxies from the environment, and a user's session,
on each client a transport can use."""

from __future__ import annotations

import http.server
import logging
import socket
import ssl
import subprocess
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import celery
import pytest
import requests

from snowplow_tracker import AsyncEmitter, Emitter, EmitterConfiguration, RetryPolicy
from snowplow_tracker.delivery.http_client import CLIENTS
from snowplow_tracker.delivery.transport import HttpTransport
from snowplow_tracker.emitters.celery.emitter import CeleryEmitter
from snowplow_tracker.emitters.process.emitter import ProcessEmitter
from snowplow_tracker.emitters.redis import cli as redis_cli
from snowplow_tracker.errors import ConfigurationError
from snowplow_tracker.protocol.wire import encode_event
from snowplow_tracker.testing import Collector
from tests.capture import Calls
from tests.payloads import make_payload
from tests.scripts import run_script, run_to_end
from tests.waiting import wait_until

HttpsServer = Tuple[int, Path, List[str]]


class _Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[HttpsServer]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for IP 127.0.0.1: its port,
    its certificate, and the paths it was sent."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.paths = []  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert, server.paths  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def no_ca_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send_one(transport: HttpTransport) -> Tuple[List[bytes], List[bytes], object]:
    try:
        result = transport.send([encode_event(make_payload(), "post")])
    finally:
        transport.close()
    return result.sent, result.retry, result.error


@pytest.mark.parametrize("client", CLIENTS)
def test_self_signed_collector_is_refused_tls_verification_stays_on(
    https_server: HttpsServer, no_ca_env: None, client: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A certificate no trusted CA signed fails the request for good (retrying cannot fix it),
    logged at ERROR with what to set; nothing is sent blindly."""
    port, _, paths = https_server
    transport = HttpTransport(f"https://127.0.0.1:{port}", client=client)
    try:
        result = transport.send([encode_event(make_payload(), "post")])
    finally:
        transport.close()
    assert result.sent == [] and result.retry == [] and len(result.rejected) == 1
    assert str(result.error).startswith("SSLError (")
    assert paths == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert f"certificate verify failed for https://127.0.0.1:{port}/" in message
    assert "verify='/path/to/ca.pem'" in message


@pytest.mark.parametrize("client", CLIENTS)
def test_verify_names_the_ca_bundle_or_turns_verification_off(
    https_server: HttpsServer, no_ca_env: None, client: str, tmp_path: Path
) -> None:
    """verify=<CA file>, verify=<directory of hashed CA files> and verify=False reach it."""
    port, cert, paths = https_server
    directory = tmp_path / "ca-dir"
    directory.mkdir()
    subject_hash = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(cert)],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (directory / f"{subject_hash}.0").write_bytes(cert.read_bytes())
    for verify in (str(cert), cert, str(directory)):
        sent, _, error = send_one(
            HttpTransport(f"https://127.0.0.1:{port}", client=client, verify=verify)  # type: ignore[arg-type]
        )
        assert len(sent) == 1, (verify, error)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3 warns about unverified HTTPS, as it should
        sent, _, _ = send_one(
            HttpTransport(f"https://127.0.0.1:{port}", client=client, verify=False)
        )
    assert len(sent) == 1
    assert len(paths) == 4


@pytest.mark.parametrize("client", CLIENTS)
def test_ca_bundle_from_environment_makes_the_collector_trusted(
    https_server: HttpsServer, monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    """REQUESTS_CA_BUNDLE selects the CA used to verify the collector, as with requests."""
    port, cert, paths = https_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    transport = HttpTransport(f"https://127.0.0.1:{port}", "post", client=client)
    try:
        events = [encode_event(make_payload(), "post") for _ in range(3)]
        assert transport.send(events).sent == events
        assert transport.send(events).sent == events  # over the same kept-alive connection
    finally:
        transport.close()
    assert paths == ["/com.snowplowanalytics.snowplow/tp2"] * 2


def test_a_user_session_verifying_with_its_own_bundle_is_trusted(
    https_server: HttpsServer, no_ca_env: None
) -> None:
    """A user's requests.Session with verify=<bundle> is used as it is."""
    port, cert, paths = https_server
    with requests.Session() as session:
        session.verify = str(cert)
        sent, _, _ = send_one(HttpTransport(f"https://127.0.0.1:{port}", session=session))
    assert len(sent) == 1 and len(paths) == 1


def test_a_user_session_is_used_for_every_request_and_left_open(collector: Collector) -> None:
    """Headers, adapters and mocks of the user's session apply; close() does not close it."""
    with requests.Session() as session:
        session.headers["X-Team"] = "analytics"
        transport = HttpTransport(collector.endpoint, "get", session=session)
        for _ in range(2):
            assert len(transport.send([encode_event(make_payload(), "get")]).sent) == 1
            transport.close()
        assert [r.headers.get("X-Team") for r in collector.requests] == ["analytics"] * 2


@pytest.mark.parametrize("client", CLIENTS)
def test_proxy_from_environment_is_used(
    collector: Collector, monkeypatch: pytest.MonkeyPatch, closed_port: int, client: str
) -> None:
    """With HTTP_PROXY set, requests go to the proxy (here a closed port), not to the collector."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    host = f"collector-{uuid.uuid4().hex[:8]}.example:{collector.port}"
    _, retry, error = send_one(HttpTransport(host, "post", client=client))
    assert len(retry) == 1 and error == "ProxyError"
    assert collector.requests == []


@pytest.mark.parametrize("client", CLIENTS)
def test_no_proxy_from_environment_sends_straight_to_the_collector(
    collector: Collector, monkeypatch: pytest.MonkeyPatch, closed_port: int, client: str
) -> None:
    """NO_PROXY naming the collector's host wins over HTTP_PROXY."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("no_proxy", raising=False)
    sent, _, _ = send_one(HttpTransport(collector.endpoint, "post", client=client))
    assert len(sent) == 1
    assert collector.wait_for_events(1, timeout=5)


# -- verify= on every emitter ----------------------------------------------------------------

EMITTER_KINDS = ["Emitter", "AsyncEmitter", "ProcessEmitter", "CeleryEmitter", "redis-worker"]


def build_emitter(kind: str, endpoint: str, verify: object, **kwargs: Any) -> Any:
    """An emitter of ``kind`` sending POSTs of one event to ``endpoint`` with ``verify``."""
    if kind == "Emitter":
        return Emitter(endpoint, method="post", buffer_size=1, verify=verify, **kwargs)
    if kind == "AsyncEmitter":
        return AsyncEmitter(endpoint, method="post", buffer_size=1, verify=verify, **kwargs)
    if kind == "ProcessEmitter":  # spawned senders: verify travels in their configuration
        return ProcessEmitter(endpoint, buffer_size=1, process_count=1, verify=verify, **kwargs)
    if kind == "CeleryEmitter":  # eager: the task runs here, from the message's configuration
        app = celery.Celery("snowplow-test-tls", broker="memory://")
        app.conf.update(
            task_always_eager=True,
            accept_content=["json"],
            task_serializer="json",
            snowplow_allowed_endpoints=[endpoint],  # workers deny every destination by default
        )
        return CeleryEmitter(endpoint, buffer_size=1, celery_app=app, verify=verify, **kwargs)
    option = str(verify) if not isinstance(verify, bool) else str(verify).lower()
    argv = ["--endpoint", endpoint, "--verify", option, "--process-count", "1"]
    return redis_cli.build_emitter(redis_cli.parse_args(redis_cli.build_parser(), argv))


@pytest.mark.parametrize("kind", EMITTER_KINDS)
def test_every_emitter_trusts_a_private_ca_given_as_verify(
    https_server: HttpsServer, no_ca_env: None, kind: str
) -> None:
    port, cert, paths = https_server
    emitter = build_emitter(kind, f"https://127.0.0.1:{port}", str(cert))
    try:
        emitter.input(make_payload())
        assert emitter.flush(timeout=30) is not False
        assert wait_until(lambda: len(paths) == 1, timeout=30)
    finally:
        emitter.close(timeout=5) if kind != "CeleryEmitter" else None
    assert emitter.verify == str(cert)


@pytest.mark.parametrize("kind", ["Emitter", "AsyncEmitter"])
def test_a_certificate_failure_is_logged_once_at_error_and_fails_at_once(
    https_server: HttpsServer, no_ca_env: None, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Not retried for a minute like a network blip: logged at ERROR with what to set, and the
    events go to on_failure (the default policy would retry for about a minute)."""
    port, _, paths = https_server
    calls = Calls()
    emitter = build_emitter(
        kind,
        f"https://127.0.0.1:{port}",
        True,
        retry_policy=RetryPolicy(),
        on_failure=calls.on_failure,
    )
    try:
        for _ in range(3):
            emitter.input(make_payload())
        assert emitter.flush(timeout=20) is True
        assert calls.failed.is_set()
        stats = emitter.stats()
        assert stats.failed == 3 and stats.retried == 0 and stats.sent == 0
    finally:
        emitter.close(timeout=5)
    assert paths == []
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, errors
    assert f"certificate verify failed for https://127.0.0.1:{port}/" in errors[0]


def test_a_sender_process_logs_a_certificate_failure_once_and_fails_at_once(
    https_server: HttpsServer, no_ca_env: None
) -> None:
    """ProcessEmitter: the sender (forked, so it logs to this script's stderr) gives up at once."""
    port, _, paths = https_server
    out = run_to_end(
        """
        import logging, sys
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        from snowplow_tracker import RetryPolicy
        from snowplow_tracker.emitters.process.emitter import ProcessEmitter
        failed = []
        e = ProcessEmitter(sys.argv[1], buffer_size=1, process_count=1, start_method="fork",
                           retry_policy=RetryPolicy(), on_failure=lambda n, ev: failed.extend(ev))
        for i in range(3):
            e.input({"e": "pv", "eid": str(i)})
        print(e.flush(timeout=20), len(failed), e.stats().retried)
        e.close(timeout=5)
        """,
        f"https://127.0.0.1:{port}",
        timeout=60,
    )
    assert out.split() == ["True", "3", "0"]
    assert paths == []


def test_the_sender_logs_the_certificate_failure_at_error_once(
    https_server: HttpsServer, no_ca_env: None
) -> None:
    port, _, _ = https_server
    proc = run_script(
        """
        import logging, sys
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        from snowplow_tracker.emitters.process.emitter import ProcessEmitter
        e = ProcessEmitter(sys.argv[1], buffer_size=1, process_count=1, start_method="fork")
        for i in range(3):
            e.input({"e": "pv", "eid": str(i)})
        e.flush(timeout=20)
        e.close(timeout=5)
        """,
        f"https://127.0.0.1:{port}",
    )
    _, err = proc.communicate(timeout=60)
    errors = [line for line in err.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, err
    assert f"certificate verify failed for https://127.0.0.1:{port}/" in errors[0]
    assert "verify='/path/to/ca.pem'" in errors[0]


@pytest.mark.parametrize(
    "bad",
    ["/no/such/ca.pem", "", 1, None, b"/etc/ssl"],
    ids=["missing", "empty", "int", "None", "bytes"],
)
@pytest.mark.parametrize("kind", ["Emitter", "AsyncEmitter", "ProcessEmitter", "CeleryEmitter"])
def test_a_bad_verify_is_refused_naming_the_argument(kind: str, bad: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        build_emitter(kind, "https://collector.example.com", bad)
    assert f"{kind}: argument 'verify' must be True, False, or the path of an existing CA" in str(
        info.value
    )


def test_the_1x_emitter_configuration_passes_verify(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    assert EmitterConfiguration(verify=str(ca)).emitter_arguments()["verify"] == str(ca)
    assert "verify" not in EmitterConfiguration().emitter_arguments()
    with pytest.raises(ConfigurationError, match="EmitterConfiguration: argument 'verify'"):
        EmitterConfiguration(verify="/no/such/ca.pem")
