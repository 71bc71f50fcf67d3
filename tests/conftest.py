"""Root test configuration: shared fixtures live in ``tests/fixtures`` and are registered here."""

pytest_plugins = [
    "tests.fixtures.collector",
    "tests.fixtures.redis_server",
    "tests.fixtures.celery_worker",
    "tests.fixtures.network",
    "tests.capture",
]
