"""Packaging for the ``snowplow-tracker`` distribution (installs only ``snowplow_tracker``)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^VERSION = "([^"]+)"', (HERE / "snowplow_tracker" / "_version.py").read_text(), re.M
).group(1)  # type: ignore[union-attr]

setup(
    name="snowplow-tracker",
    version=VERSION,
    description="Snowplow event tracker for Python with a multiprocess sender pool",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["snowplow_tracker", "snowplow_tracker.*"]),
    package_data={"snowplow_tracker": ["py.typed"]},
    zip_safe=False,
    install_requires=["requests>=2.25", "orjson>=3.6", "psutil>=5.8"],
    extras_require={
        "redis": ["redis>=4.2"],
        "celery": ["celery>=5.2", "redis>=4.2"],
        "test": [
            "pytest>=7.4",
            "jsonschema>=4.17",
            "redis>=4.2",
            "celery>=5.2",
            "matplotlib>=3.5",
        ],
        "lint": ["ruff>=0.4", "mypy>=1.8", "types-requests", "types-psutil"],
        "perf": ["matplotlib>=3.5", "redis>=4.2", "celery>=5.2"],
    },
    entry_points={
        "console_scripts": ["snowplow-redis-worker=snowplow_tracker.redis_worker:main"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX",
        "Typing :: Typed",
    ],
)
