"""Emitters are composed, not inherited: each holds only the parts it uses.

``Emitter`` and ``AsyncEmitter`` send from the host process and own an HTTP transport;
``ProcessEmitter`` (its senders build theirs) and ``CeleryEmitter`` (the workers build theirs)
build none in the host, and take the collector URLs from ``protocol.wire.collector_urls``.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Type

import pytest
import requests

from snowplow_tracker import AsyncEmitter, Emitter, ProcessEmitter
from snowplow_tracker.delivery.retry import RetryPolicy
from snowplow_tracker.delivery.transport import HttpTransport
from snowplow_tracker.emitters.base import BaseEmitter
from snowplow_tracker.emitters.celery.emitter import CeleryEmitter
from snowplow_tracker.protocol.wire import POST_PATH, collector_urls

ADDRESSES = [
    {"endpoint": "collector.example.com"},
    {"endpoint": "collector.example.com", "protocol": "https", "port": 8443},
    {"endpoint": "https://user:secret@collector.example.com:9090/base"},
]


@pytest.fixture
def no_http_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Makes building an HttpTransport or a requests.Session fail the test."""

    def refuse(self: Any, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"{type(self).__name__} built in the host")

    monkeypatch.setattr(HttpTransport, "__init__", refuse)
    monkeypatch.setattr(requests.Session, "__init__", refuse)
    yield


@pytest.mark.usefixtures("no_http_client")
@pytest.mark.parametrize("address", ADDRESSES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_process_emitter_builds_no_transport_in_the_host(
    address: Dict[str, Any], method: str
) -> None:
    emitter = ProcessEmitter(**address, method=method)
    try:
        assert not hasattr(emitter, "transport")
        get_url, post_url = collector_urls(
            address["endpoint"], address.get("protocol", "http"), address.get("port")
        )
        assert emitter.url == (post_url if method == "post" else get_url)
        assert "secret" not in emitter.url
    finally:
        emitter.close(timeout=0.5)


@pytest.mark.usefixtures("no_http_client")
@pytest.mark.parametrize("address", ADDRESSES)
def test_a_celery_emitter_builds_no_transport_in_the_host(address: Dict[str, Any]) -> None:
    emitter = CeleryEmitter(**address, request_timeout=(2, 7))
    assert not hasattr(emitter, "transport")
    _, post_url = collector_urls(
        address["endpoint"], address.get("protocol", "http"), address.get("port")
    )
    assert emitter.task_config["url"] == post_url[: -len(POST_PATH)]
    assert emitter.task_config["timeout"] == [2.0, 7.0]


@pytest.mark.parametrize("address", ADDRESSES)
@pytest.mark.parametrize("request_timeout", [None, 3, (1.5, 4)])
def test_the_celery_task_config_is_what_the_transport_gave(
    address: Dict[str, Any], request_timeout: Any
) -> None:
    """The message carries the URL and timeout an HttpTransport of the same arguments has."""
    emitter = CeleryEmitter(**address, request_timeout=request_timeout)
    transport = HttpTransport(
        address["endpoint"],
        "post",
        address.get("protocol", "http"),
        address.get("port"),
        request_timeout,
    )
    assert emitter.task_config["url"] == transport.post_url[: -len(POST_PATH)]
    assert emitter.task_config["timeout"] == list(transport.timeout)


@pytest.mark.parametrize("cls", [Emitter, AsyncEmitter])
@pytest.mark.parametrize("address", ADDRESSES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_in_host_emitters_own_their_transport(
    cls: Type[BaseEmitter], address: Dict[str, Any], method: str
) -> None:
    policy = RetryPolicy(max_attempts=2)
    with requests.Session() as session:
        emitter: Any = cls(
            **address,
            method=method,
            request_timeout=(1, 2),
            retry_policy=policy,
            session=session,
        )
        try:
            transport = emitter.transport
            assert isinstance(transport, HttpTransport)
            assert transport.url == emitter.url
            assert transport.method == method
            assert transport.timeout == (1.0, 2.0)
            assert transport.retry_policy is emitter.retry_policy
            assert transport._user_client is not None  # the user's session is used
        finally:
            emitter.close(timeout=0.5)


@pytest.mark.parametrize("thread_count", [1, 3, 8])
def test_an_async_emitter_transport_has_a_connection_per_possible_sender(
    thread_count: int,
) -> None:
    emitter = AsyncEmitter("collector.example.com", thread_count=thread_count)
    try:
        assert emitter.transport.pool_size == thread_count + max(thread_count, 4)
    finally:
        emitter.close(timeout=0.5)
