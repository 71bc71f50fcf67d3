"""Delivery: the parts every emitter is composed of, whatever its dispatcher.

* :mod:`.batching`: the ``Batcher`` buffer and the batch limits (count, bytes, age);
* :mod:`.retry`: ``RetryPolicy``, the one retry and backoff policy;
* :mod:`.transport`: ``HttpTransport`` and ``deliver`` (a batch to an outcome per event);
* :mod:`.http_client`: the requests and urllib3 clients and the exception name table;
* :mod:`.stats`: the counters and ``EmitterStats``;
* :mod:`.event_store`: the 1.x ``EventStore`` interface and ``InMemoryEventStore``;
* :mod:`.event_chunks`: compact byte storage of encoded events;
* :mod:`.memory`: giving a burst's memory back to the OS.
"""
