"""Fixtures every test folder shares (tests/support holds them), and hypothesis's profile:
on CI (CI=true) every property test runs derandomized, the same cases each run, with no
per-example deadline (a loaded machine must not turn a slow example into a failure)."""

import os

from hypothesis import settings

pytest_plugins = ["tests.support.forge", "tests.support.postgres"]

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
