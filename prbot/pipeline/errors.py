"""Errors of the promotion state machine."""

from __future__ import annotations

from prbot.errors import PrbotError


class PipelineError(PrbotError):
    """A pipeline value, a promotion or a happening is malformed (a bad stage name, a
    window that never opens, a naive datetime). A retry would fail the same way."""

    permanent = True
