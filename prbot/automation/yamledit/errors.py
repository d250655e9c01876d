"""The error raised for an edit that cannot be made."""

from __future__ import annotations


class YamlEditError(ValueError):
    """An edit that cannot be made. The message names the path and never carries a value."""
