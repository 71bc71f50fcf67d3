"""The ``verify`` argument: its rule, and the worker program's ``--verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snowplow_tracker import arguments
from snowplow_tracker.emitters.redis.cli import build_parser, parse_args, verify_option
from snowplow_tracker.errors import ConfigurationError


def test_verify_is_a_bool_or_the_path_of_an_existing_file_or_directory(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    assert arguments.tls_verify("E", "verify", True) is True
    assert arguments.tls_verify("E", "verify", False) is False
    assert arguments.tls_verify("E", "verify", str(ca)) == str(ca)
    assert arguments.tls_verify("E", "verify", ca) == str(ca)  # os.PathLike
    assert arguments.tls_verify("E", "verify", str(tmp_path)) == str(tmp_path)


@pytest.mark.parametrize("bad", [None, 0, 1, "", "/no/such/ca.pem", b"/tmp", ["ca.pem"]])
def test_anything_else_is_refused_naming_the_argument_and_value(bad: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        arguments.tls_verify("ProcessEmitter", "verify", bad)
    message = str(info.value)
    assert message.startswith(
        "ProcessEmitter: argument 'verify' must be True, False, or the path of an existing CA "
        "bundle file or directory, got "
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), (None, True),
     ("false", False), ("False", False), ("0", False), ("no", False),
     ("/etc/ssl/ca.pem", "/etc/ssl/ca.pem")],
)  # fmt: skip
def test_the_worker_option_reads_true_false_or_a_path(text: Any, value: Any) -> None:
    assert verify_option(text) == value


def test_the_worker_option_comes_from_the_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = parse_args(build_parser(), ["--endpoint", "c.example"])
    assert verify_option(args.verify) is True
    monkeypatch.setenv("SNOWPLOW_VERIFY", "/etc/ssl/private-ca.pem")
    args = parse_args(build_parser(), ["--endpoint", "c.example"])
    assert verify_option(args.verify) == "/etc/ssl/private-ca.pem"
