"""Password inputs on their way to a run, in this process's memory only.

A run's inputs reach its worker through the stored job queue, and secrets are never
stored. So the values of password inputs wait here, keyed by the run's id, for at most
``SEALED_SECONDS``, and are dropped as soon as the run is done with them. Nothing here
is logged, written, pickled or shown: ``repr`` names the runs, never a value. Whatever
this process does not hold (it restarted, or another process has the job) is gone, and
the run that needed it fails saying so (``PASSWORD_GONE``): it never runs without it.
``prbot.engine.sealed_runs`` is how a run that needs the vault is carried out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

SEALED_SECONDS = 600.0  # a sealed run must be done by then, or it fails
PASSWORD_GONE = "the password input is gone (prbot restarted before the run started); run again"


@dataclass
class _Held:
    values: dict[str, str] = field(repr=False)
    until: float


class SecretVault:
    def __init__(self, *, ttl: float = SEALED_SECONDS, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.clock = clock
        self._held: dict[int, _Held] = {}

    def __repr__(self) -> str:
        return f"SecretVault(runs={sorted(self._held)})"

    def put(self, run_id: int, values: Mapping[str, str]) -> None:
        self._expire()
        self._held[run_id] = _Held(dict(values), self.clock() + self.ttl)

    def get(self, run_id: int) -> dict[str, str] | None:
        """The run's password values, or None when this process does not hold them."""
        self._expire()
        held = self._held.get(run_id)
        return None if held is None else dict(held.values)

    def drop(self, run_id: int) -> None:
        self._held.pop(run_id, None)

    def _expire(self) -> None:
        now = self.clock()
        for run_id in [r for r, h in self._held.items() if h.until <= now]:
            del self._held[run_id]
