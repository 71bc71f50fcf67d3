"""The Subject: who (and on what) the tracked events happen: user id, platform, screen...

A :class:`Subject` keeps its protocol fields in a ready-made ``dict[str, str]`` that the tracker
copies into each event as is, so a tracked event pays nothing for the subject beyond one
``dict.update``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from .protocol import checking as _checking
from .protocol import contracts as _contracts
from .protocol.constants import DEFAULT_PLATFORM, SUPPORTED_PLATFORMS
from .protocol.payload import to_str


class Subject:
    """The user and device an event is about; every setter returns the subject, for chaining.

    A fresh subject has only the platform ``p="pc"``. Setters validate their argument while
    contracts are enabled (:class:`~snowplow_tracker.errors.ValidationError` otherwise). Passing
    None (or ``""``) to a single-value setter other than :meth:`set_platform` removes the field.

    Used as a tracker's subject (``Tracker(subject=...)``, ``Tracker.set_subject``) or as an
    event-level subject (``track_*(..., event_subject=...)``): the event subject's fields are then
    merged over the tracker subject's (see :meth:`combine_subject`).

    Example::

        s = Subject().set_platform("srv").set_user_id("user-42").set_lang("en")
    """

    __slots__ = ("_pairs", "_platform_set")

    def __init__(self) -> None:
        self._pairs: Dict[str, str] = {"p": DEFAULT_PLATFORM}
        self._platform_set = False

    @property
    def standard_nv_pairs(self) -> Dict[str, str]:
        """The subject's protocol fields (``p``, ``uid``, ``res``...). Read it; do not modify it."""
        return self._pairs

    def _set(self, key: str, value: Any) -> Subject:
        if value is None or value == "":
            self._pairs.pop(key, None)
        else:
            self._pairs[key] = to_str(value)
        return self

    def _set_checked(
        self, setter: str, arg: str, key: str, value: Any, check: Any = _contracts.optional_string
    ) -> Subject:
        """Set ``key`` to ``value`` (None or ``""`` removes it), checked by the contracts function
        ``check`` (a string or None by default) as the argument ``arg`` of ``Subject.<setter>``."""
        if _checking.enabled and value is not None:
            check(f"Subject.{setter}", arg, value)
        return self._set(key, value)

    def set_platform(self, value: str) -> Subject:
        """Set the platform ``p``: one of web, mob, pc, srv, app, tv, cnsl, iot, headset.

        Args:
            value: The platform code (default ``"pc"``).
        """
        if _checking.enabled:
            _contracts.one_of("Subject.set_platform", "value", value, SUPPORTED_PLATFORMS)
        if value:
            self._pairs["p"] = to_str(value)
            self._platform_set = True
        else:  # only reachable with contracts disabled: back to the default
            self._pairs["p"] = DEFAULT_PLATFORM
            self._platform_set = False
        return self

    def set_user_id(self, user_id: Optional[str]) -> Subject:
        """Set the business user id ``uid``.

        Args:
            user_id: Any string, or None to remove it.
        """
        return self._set_checked("set_user_id", "user_id", "uid", user_id)

    def _size(self, setter: str, key: str, width: int, height: int) -> Subject:
        """Set ``key`` to ``"<width>x<height>"``, both checked as positive integers."""
        if _checking.enabled:
            _contracts.positive_int(f"Subject.{setter}", "width", width)
            _contracts.positive_int(f"Subject.{setter}", "height", height)
        self._pairs[key] = f"{width}x{height}"
        return self

    def set_screen_resolution(self, width: int, height: int) -> Subject:
        """Set the screen resolution ``res`` (``"<width>x<height>"``).

        Args:
            width: Screen width in pixels, a positive integer.
            height: Screen height in pixels, a positive integer.
        """
        return self._size("set_screen_resolution", "res", width, height)

    def set_viewport(self, width: int, height: int) -> Subject:
        """Set the viewport size ``vp``, in pixels.

        Args:
            width: Viewport width, a positive integer.
            height: And its height, likewise.
        """
        return self._size("set_viewport", "vp", width, height)

    def set_color_depth(self, depth: Optional[int]) -> Subject:
        """Set the colour depth ``cd`` in bits per pixel.

        Args:
            depth: Bits per pixel, a positive integer; None removes it.
        """
        return self._set_checked("set_color_depth", "depth", "cd", depth, _contracts.positive_int)

    def set_timezone(self, timezone: Optional[str]) -> Subject:
        """Set the time zone ``tz``, e.g. ``"Europe/London"``.

        Args:
            timezone: An IANA zone name; None removes the field.
        """
        return self._set_checked("set_timezone", "timezone", "tz", timezone)

    def set_lang(self, lang: Optional[str]) -> Subject:
        """Set the language ``lang``, e.g. ``"en"``.

        Args:
            lang: A language code (a string), or None to remove it.
        """
        return self._set_checked("set_lang", "lang", "lang", lang)

    def set_ip_address(self, ip: Optional[str]) -> Subject:
        """Set the IP address ``ip`` (overrides the one the collector sees).

        Args:
            ip: An IPv4 or IPv6 address as a string; None removes it.
        """
        return self._set_checked("set_ip_address", "ip", "ip", ip)

    def set_useragent(self, ua: Optional[str]) -> Subject:
        """Set the user agent ``ua`` (overrides the one the collector sees).

        Args:
            ua: The user agent string (None: removed).
        """
        return self._set_checked("set_useragent", "ua", "ua", ua)

    def set_domain_user_id(self, duid: Optional[str]) -> Subject:
        """Set the domain user id ``duid`` (the JavaScript tracker's first-party cookie id).

        Args:
            duid: The cookie's id, a string; None to remove it.
        """
        return self._set_checked("set_domain_user_id", "duid", "duid", duid)

    def set_domain_session_id(self, sid: Optional[str]) -> Subject:
        """Set the domain session id ``sid``; Snowplow Enrich requires a UUID.

        Args:
            sid: The session's UUID (a string), or None to remove it.
        """
        return self._set_checked("set_domain_session_id", "sid", "sid", sid, _contracts.uuid_string)

    def set_domain_session_index(self, vid: Optional[int]) -> Subject:
        """Set the domain session index ``vid``.

        Args:
            vid: A positive integer (at most 2147483647), or None to remove it.
        """
        return self._set_checked(
            "set_domain_session_index", "vid", "vid", vid, _contracts.positive_int
        )

    def set_network_user_id(self, nuid: Optional[str]) -> Subject:
        """Set the network user id; sent as ``tnuid``, which overrides the collector's cookie id.

        Written to ``tnuid`` (not ``nuid``) as tracker 1.1.0 does.

        Args:
            nuid: The collector cookie id to send, or None to remove it.
        """
        return self._set_checked("set_network_user_id", "nuid", "tnuid", nuid)

    def combine_subject(self, subject: Optional[Subject]) -> Dict[str, str]:
        """Return this (event-level) subject's fields merged over ``subject``'s (tracker-level).

        Every field this subject set wins. The platform is the exception to "every field": a
        fresh Subject carries the default ``p="pc"``, and tracker 1.1.0 lets that default replace
        the tracker subject's platform. Here the tracker subject's platform is kept unless this
        subject called :meth:`set_platform` explicitly.

        Args:
            subject: The tracker's subject, or None.

        Returns:
            A new dict of protocol fields.

        Raises:
            ValidationError: ``subject`` is neither a Subject nor None.
        """
        if subject is None:
            return dict(self._pairs)
        if subject.__class__ is not Subject and not isinstance(subject, Subject):
            _contracts.fail("Subject.combine_subject", "subject", "a Subject or None", subject)
        merged = dict(subject._pairs)
        merged.update(self._pairs)
        if not self._platform_set:
            merged["p"] = subject._pairs.get("p", DEFAULT_PLATFORM)
        return merged

    def __repr__(self) -> str:
        return f"Subject({self._pairs!r})"
