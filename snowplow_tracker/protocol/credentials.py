"""Credentials in URLs: finding them without a URL parser, and hiding them from every text.

A URL's userinfo is found by a scheme-aware split that never relies on ``urllib`` parsing the URL:
it runs from after ``scheme://`` (or from the start of a URL without a scheme) to the LAST ``@``.
A password may hold any character, ``/``, ``#``, ``?``, ``@`` and spaces included, where a URL
parser would end the authority early, misread the password as a port or a path, and put pieces
of it in its error messages; the split here hides all of it whatever it holds. (An ``@`` in a
path is then taken as part of the userinfo: the text shown hides more than needed, never less.)

* :func:`mask_url`: one URL, its password replaced by ``***``.
* :func:`mask_credentials`: any text (a message), its URLs' passwords masked, and the
  ``password=`` query parameters.
* :func:`split_userinfo` and :func:`unencoded_credentials`: for the code that checks URLs before
  a parser reads them; :func:`with_credentials` puts credentials back into a URL, encoded.
"""

from __future__ import annotations

import re
from typing import Iterable, List, Optional, Tuple
from urllib.parse import quote, unquote

__all__ = [
    "ENCODED_CREDENTIALS",
    "MASK",
    "has_scheme",
    "mask_credentials",
    "mask_url",
    "split_userinfo",
    "unencoded_credentials",
    "with_credentials",
]

#: What a password is replaced with.
MASK = "***"
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_QUERY_SECRET_RE = re.compile(r"(?i)(?P<key>[?&](?:password|passwd|pwd)=)[^&#\s]*")
#: Characters that end a URL's authority for a parser: in credentials they must be encoded.
_DELIMITERS = frozenset("/?#@\\")
#: What a URL whose credentials a URL parser would misread is expected to have instead.
ENCODED_CREDENTIALS = (
    "credentials percent-encoded ('/', '?', '#', '@', '\\' and spaces as %2F, %3F, %23, %40, "
    "%5C, %20), and no '@' after the host (%40)"
)
#: A port after a host: not the start of a password.
_PORT = re.compile(r":[0-9]{1,5}(?=[/?#'\"\s),;\]>]|$)")
#: What may precede a URL in a text.
_WORD_BOUNDARY = frozenset(" \t\r\n'\"(<[{,;=")
#: Passwords at least this long are also hidden where they appear outside a URL.
_MIN_SECRET = 4


def has_scheme(url: str) -> bool:
    """Whether ``url`` starts with ``scheme://``."""
    return _SCHEME_RE.match(url) is not None


def split_userinfo(url: str) -> Tuple[str, Optional[str], str]:
    """Split ``url`` into ``(scheme_prefix, userinfo, rest)`` without parsing it as a URL.

    ``scheme_prefix`` is ``"scheme://"`` or ``""``; ``userinfo`` runs to the last ``@`` (None
    when there is no ``@``); ``rest`` is what follows it (host, port, path, ...).

    Args:
        url: A URL, with or without a scheme.
    """
    match = _SCHEME_RE.match(url)
    start = match.end() if match else 0
    at = url.rfind("@", start)
    if at < 0:
        return url[:start], None, url[start:]
    return url[:start], url[start:at], url[at + 1 :]


def _mask_query(text: str) -> str:
    return _QUERY_SECRET_RE.sub(r"\g<key>***", text)


def _mask_userinfo(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    if not colon:
        return userinfo  # a user name alone
    return f"{user}:{MASK}"


def mask_url(url: str) -> str:
    """``url`` with the password of its userinfo replaced by ``***`` (and ``password=`` query
    values); a URL without one is returned unchanged.

    ``scheme://user:secret@host:6379/0`` becomes ``scheme://user:***@host:6379/0``;
    ``redis://:p/a#s s@host`` becomes ``redis://:***@host``.

    Args:
        url: A URL, with or without a scheme; it need not be valid.
    """
    prefix, userinfo, rest = split_userinfo(url)
    if userinfo is None:
        return _mask_query(url)
    return f"{prefix}{_mask_userinfo(userinfo)}@{_mask_query(rest)}"


def _secrets(url: str) -> List[str]:
    """The password of ``url`` as written and percent-decoded, if long enough to search for."""
    _, userinfo, _ = split_userinfo(url)
    if userinfo is None or ":" not in userinfo:
        return []
    password = userinfo.split(":", 1)[1]
    found = {password, unquote(password)}
    return sorted((s for s in found if len(s) >= _MIN_SECRET), key=len, reverse=True)


def mask_credentials(text: str, urls: Iterable[str] = ()) -> str:
    """Hide the passwords of the URLs in ``text`` (for logs, reprs and error messages).

    First the passwords of ``urls`` (the URLs the caller knows the text may be about), as
    written and percent-decoded, are replaced wherever they appear: that is the robust part,
    which holds whatever a password contains, even where a third-party message quotes it
    without its URL (passwords shorter than 4 characters are not searched for). Then each
    ``scheme://`` that starts a word begins a URL, masked as :func:`mask_url` masks one, up to
    the next such URL; a ``scheme://`` that follows a ``:`` (not a port's) and no ``@`` is
    taken as part of the password before it, and after a masked password a later URL's bare
    user name is hidden too. ``password=`` query values are masked.

    Args:
        text: A URL or any message that may contain URLs.
        urls: URLs whose passwords must not appear in ``text``.
    """
    for url in urls:
        for secret in _secrets(url):
            text = text.replace(secret, MASK)
    starts = [
        m.start()
        for m in _SCHEME_RE.finditer(text)
        if m.start() == 0 or text[m.start() - 1] in _WORD_BOUNDARY
    ]
    if not starts:
        return _mask_query(text)
    bounds = [starts[0]]
    for start in starts[1:]:
        before = _PORT.sub("", text[bounds[-1] : start].split("://", 1)[1])
        if "@" in before or ":" not in before:
            bounds.append(start)
    pieces = [_mask_query(text[: bounds[0]])]
    masked = False
    for i, start in enumerate(bounds):
        end = bounds[i + 1] if i + 1 < len(bounds) else len(text)
        prefix, userinfo, rest = split_userinfo(text[start:end])
        if userinfo is None:
            pieces.append(_mask_query(text[start:end]))
            continue
        if ":" in userinfo:
            userinfo, masked = _mask_userinfo(userinfo), True
        elif masked:
            userinfo = MASK
        pieces.append(f"{prefix}{userinfo}@{_mask_query(rest)}")
    return "".join(pieces)


def unencoded_credentials(url: str) -> bool:
    """Whether the userinfo of ``url`` holds a character a URL parser would take as the end of
    the authority (``/``, ``?``, ``#``, ``@``, ``\\``) or a space: the URL would be misread.

    Args:
        url: A URL, with or without a scheme.
    """
    _, userinfo, _ = split_userinfo(url)
    if userinfo is None:
        return False
    return any(c in _DELIMITERS or c.isspace() for c in userinfo)


def with_credentials(url: str, credentials: str) -> str:
    """``url`` (``scheme://host...``, without userinfo) with ``credentials`` (``"user:password"``,
    not encoded) put back in, percent-encoded.

    Args:
        url: A URL with a scheme and no userinfo.
        credentials: The user name and password, separated by the first ``:``.
    """
    prefix, _, rest = split_userinfo(url)
    user, _, password = credentials.partition(":")
    return f"{prefix}{quote(user, safe='')}:{quote(password, safe='')}@{rest}"
