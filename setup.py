"""The top-level rules/ folder ships inside the distribution as the `watchdog.rules` package."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["watchdog", "watchdog.*"]) + ["watchdog.rules", "watchdog.rules.slither"],
    package_dir={"watchdog.rules": "rules"},
)
