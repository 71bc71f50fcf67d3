"""Hiding credentials in URLs before they reach a log line, a repr or an exception message."""

from __future__ import annotations

import re

# The userinfo runs to the LAST "@" of the authority, as URL parsers read it: a password may hold
# a raw "@" ("u:p@ss@host"), which must not leave "ss" visible.
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s?#]*)@")
_QUERY_SECRET_RE = re.compile(r"(?i)(?P<key>[?&](?:password|passwd|pwd)=)[^&#\s]*")


def mask_credentials(text: str) -> str:
    """Hide the passwords of every URL in ``text`` (for logs, reprs and error messages).

    ``scheme://user:secret@host:6379/0`` becomes ``scheme://user:***@host:6379/0`` and
    ``redis://:secret@host`` becomes ``redis://:***@host``; a ``password=`` query parameter is
    masked too. Text without credentials is returned unchanged.

    Args:
        text: A URL or any message that may contain URLs.
    """

    def userinfo(match: re.Match[str]) -> str:
        info = match.group("userinfo")
        if ":" in info:
            info = info.split(":", 1)[0] + ":***"
        return f"{match.group('scheme')}{info}@"

    return _QUERY_SECRET_RE.sub(r"\g<key>***", _USERINFO_RE.sub(userinfo, text))
