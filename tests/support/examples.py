"""The repository's own examples as a test sees them: ``examples/gitops`` as the files of
a forge repository, and the shipped ``automations/`` folder."""

from __future__ import annotations

import os

from tests.support.forge import Files
from tests.support.serve import ROOT

EXAMPLE = ROOT / "examples" / "gitops"
AUTOMATIONS = ROOT / "automations"


def example_files() -> Files:
    """Every file of examples/gitops as bytes (executables and symlinks keep their mode)."""
    files: dict[str, bytes | tuple[bytes, str]] = {}
    for path in sorted(EXAMPLE.rglob("*")):
        name = path.relative_to(EXAMPLE).as_posix()
        if path.is_symlink():
            files[name] = (os.readlink(path).encode(), "120000")
        elif path.is_file():
            data = path.read_bytes()
            files[name] = (data, "100755") if os.access(path, os.X_OK) else data
    return files
