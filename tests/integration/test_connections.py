"""The http.client connection pool: TLS verified against real certificates, proxies honoured."""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from snowplow_tracker.testing import Collector
from snowplow_tracker.transport import HttpTransport
from snowplow_tracker.wire import encode_event
from tests.payloads import make_payload


class _Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[Tuple[int, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for IP 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_self_signed_collector_is_refused_tls_verification_stays_on(
    https_server: Tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate no trusted CA signed fails the request (retryable), never sends blindly."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    port, _ = https_server
    transport = HttpTransport(f"https://127.0.0.1:{port}", "post")
    try:
        result = transport.send([encode_event(make_payload(), "post")])
    finally:
        transport.close()
    assert result.sent == [] and len(result.retry) == 1
    assert result.error == "SSLError"


def test_ca_bundle_from_environment_makes_the_collector_trusted(
    https_server: Tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQUESTS_CA_BUNDLE selects the CA used to verify the collector, as with requests."""
    port, cert = https_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    transport = HttpTransport(f"https://127.0.0.1:{port}", "post")
    try:
        events = [encode_event(make_payload(), "post") for _ in range(3)]
        assert transport.send(events).sent == events
        assert transport.send(events).sent == events  # over the same kept-alive connection
    finally:
        transport.close()


def test_proxy_from_environment_is_used(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HTTP_PROXY set, requests go to the proxy (here a closed port), not to the collector."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    transport = HttpTransport(f"collector-{uuid.uuid4().hex[:8]}.example:{collector.port}", "post")
    try:
        result = transport.send([encode_event(make_payload(), "post")])
    finally:
        transport.close()
    assert result.sent == [] and result.error == "ProxyError"
    assert collector.requests == []
