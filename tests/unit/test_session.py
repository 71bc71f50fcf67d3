"""The HTTP clients read their environment settings once, and keep TLS verification on."""

from http.cookiejar import DefaultCookiePolicy

import certifi
import pytest
import requests

from snowplow_tracker.delivery.http_client import RequestsClient, Urllib3Client
from snowplow_tracker.delivery.transport import DEFAULT_POOL_SIZE, HttpTransport
from snowplow_tracker.errors import ConfigurationError

URL = "https://collector.example.com/com.snowplowanalytics.snowplow/tp2"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_proxy_from_environment_is_read_once_at_session_creation(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY set when the session is made is used; requests stops re-reading the env."""
    clean_env.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    client = RequestsClient(URL, (5, 10))
    try:
        assert client.session.proxies.get("https") == "http://proxy.internal:3128"
        assert client.session.trust_env is False
        assert client.session.verify == certifi.where()
    finally:
        client.close()


def test_ca_bundle_from_environment_is_kept(clean_env: pytest.MonkeyPatch) -> None:
    """REQUESTS_CA_BUNDLE still selects the CA bundle used to verify the collector."""
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    client = RequestsClient(URL, (5, 10))
    assert client.session.verify == "/etc/ssl/certs/ca-certificates.crt"
    client.close()


def test_urllib3_client_verifies_certificates_through_the_environment_proxy(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """The urllib3 client requires certificates and uses a ProxyManager when a proxy is set."""
    clean_env.setenv("HTTPS_PROXY", "http://user:p%40ss@proxy.internal:3128")
    client = Urllib3Client(URL, (5, 10))
    try:
        assert client.pool is None
        assert str(client.manager.proxy) == "http://user:p%40ss@proxy.internal:3128"
        assert client.manager.proxy_headers["proxy-authorization"] == "Basic dXNlcjpwQHNz"
        assert client.manager.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    finally:
        client.close()


def test_the_session_keeps_no_cookie_from_the_collector() -> None:
    """A collector's network_userid cookie must not be sent back with every later event."""
    client = RequestsClient(URL, (5, 10))
    cookie = requests.cookies.create_cookie("sp", "nuid", domain="collector.example.com")
    request = requests.cookies.MockRequest(requests.Request("POST", URL).prepare())
    policy = client.session.cookies.get_policy()  # type: ignore[no-untyped-call]
    assert not policy.set_ok(cookie, request)
    assert DefaultCookiePolicy().set_ok(cookie, request)  # which a default policy keeps
    client.close()


def test_default_pool_is_that_of_requests_and_the_default_client_is_requests() -> None:
    transport = HttpTransport("c.example.com")
    assert (
        (transport.pool_size, transport.client_name)
        == (DEFAULT_POOL_SIZE, "requests")
        == (
            10,
            "requests",
        )
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"client": "httpx"}, "argument 'client' must be one of ('requests', 'urllib3')"),
        ({"pool_size": 0}, "argument 'pool_size' must be a positive integer, got 0"),
        ({"pool_size": True}, "argument 'pool_size' must be a positive integer, got True"),
        (
            {"session": requests.Session(), "client": "urllib3"},
            "argument 'session' is a requests.Session: it needs client='requests'",
        ),
    ],
)
def test_transport_rejects_bad_client_settings(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigurationError) as info:
        HttpTransport("c.example.com", where="ProcessEmitter", **kwargs)
    assert str(info.value).startswith("ProcessEmitter: ")
    assert message in str(info.value)


def test_method_is_checked_and_lower_cased_by_the_transport() -> None:
    assert HttpTransport("c.example.com", "POST").method == "post"
    with pytest.raises(ConfigurationError, match="argument 'method' must be 'get' or 'post'"):
        HttpTransport("c.example.com", "put")
