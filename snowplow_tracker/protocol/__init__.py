"""The tracker protocol: what an event is on the wire, independent of how it is sent.

* :mod:`.credentials`: collector URL credentials, and masking them before they are logged;
* :mod:`.constants`: schemas, version, protocol defaults;
* :mod:`.contracts`: the argument rules of ``track_*`` and their error messages;
* :mod:`.payload`: a payload's fields and their encodings (JSON, base64);
* :mod:`.self_describing_json`: ``SelfDescribingJson``;
* :mod:`.wire`: encoding an event once (orjson), GET querystrings, POST bodies, ``stm``.

The old import paths ``snowplow_tracker.constants``, ``.contracts``, ``.payload`` and
``.self_describing_json`` still work.
"""
