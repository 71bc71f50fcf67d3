"""TLS verified against real certificates, proxies from the environment, and a user's session,
on each client a transport can use."""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import requests

from snowplow_tracker.delivery.http_client import CLIENTS
from snowplow_tracker.delivery.transport import HttpTransport
from snowplow_tracker.protocol.wire import encode_event
from snowplow_tracker.testing import Collector
from tests.payloads import make_payload

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
    https_server: HttpsServer, no_ca_env: None, client: str
) -> None:
    """A certificate no trusted CA signed fails the request (retryable), never sends blindly."""
    port, _, paths = https_server
    sent, retry, error = send_one(HttpTransport(f"https://127.0.0.1:{port}", client=client))
    assert sent == [] and len(retry) == 1
    assert error == "SSLError"
    assert paths == []


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
