"""Errors of the automation engine.

Every error carries enough to point a person at the cause (file, document, field path,
template line) and nothing secret: callers pass password values to ``redact`` before an
error leaves the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prbot.errors import PrbotError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition or an input, located as precisely as we can."""

    message: str
    field: str = ""  # dotted field path, e.g. spec.configuration[2].type
    file: str = ""
    document: int | None = None  # 1-based document number within the file
    line: int | None = None  # 1-based line in the file

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line is not None else self.file)
        if self.document is not None:
            parts.append(f"document {self.document}")
        if self.field:
            parts.append(self.field if self.file else f"input {self.field}")
        parts.append(self.message)
        return ": ".join(parts)


class DefinitionError(PrbotError):
    """One or more definition documents are invalid."""

    permanent = True  # a retry would fail the same way

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type, tuple[list[Problem]]]:
        return (type(self), (self.problems,))  # across the sandbox's process boundary


class InputError(PrbotError):
    """The inputs given to an automation do not satisfy its configuration."""

    permanent = True  # a retry would fail the same way

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type, tuple[list[Problem]]]:
        return (type(self), (self.problems,))  # across the sandbox's process boundary


class RenderError(PrbotError):
    """A template or an update could not be rendered or applied."""

    permanent = True


class PathError(PrbotError):
    """A path would leave the repository, touch .git, or is otherwise unusable."""

    permanent = True
