"""Fixtures every test folder shares (tests/support holds them)."""

pytest_plugins = ["tests.support.forge"]
