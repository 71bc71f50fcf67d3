"""The HTTP session reads its environment settings once, and keeps TLS verification on."""

import pytest

from snowplow_tracker.transport import HttpTransport


def test_proxy_from_environment_is_read_once_at_session_creation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY set when the session is made is used; requests stops re-reading the env."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    transport = HttpTransport("https://collector.example.com", "post")
    session = transport._get_session()
    try:
        assert session.proxies.get("https") == "http://proxy.internal:3128"
        assert session.trust_env is False
        assert session.verify is True
    finally:
        transport.close()


def test_ca_bundle_from_environment_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQUESTS_CA_BUNDLE still selects the CA bundle used to verify the collector."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    transport = HttpTransport("https://collector.example.com", "post")
    try:
        assert transport._get_session().verify == "/etc/ssl/certs/ca-certificates.crt"
    finally:
        transport.close()
