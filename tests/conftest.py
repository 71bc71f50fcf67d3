"""Root test configuration: shared fixtures live in ``tests/fixtures`` and are registered here.

Hypothesis runs under the ``snowplow`` profile: no deadline (the machine may be shared), no
example database written into the checkout. Each property test sets its own ``max_examples``
through :func:`tests.properties.examples`, so that they stay fast; ``PROPERTY_EXAMPLES=20``
multiplies them for a long hunt.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "snowplow",
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "snowplow"))

pytest_plugins = [
    "tests.fixtures.collector",
    "tests.fixtures.redis_server",
    "tests.fixtures.celery_worker",
    "tests.fixtures.network",
    "tests.capture",
]
