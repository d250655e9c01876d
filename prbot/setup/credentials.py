"""Writing the files ``prbot setup`` leaves for ``prbot serve`` (read by ``prbot.settings``
through PRBOT_GITHUB_APP_FILE / PRBOT_GITLAB_FILE).

A file is YAML with variable names as keys, created with mode 0600 from the start (never
a moment readable by others) and renamed into place, so a reader sees the old file or the
whole new one. An existing file is kept unless ``force``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from prbot.errors import PrbotError


class SetupError(PrbotError):
    """``prbot setup`` or ``prbot check`` cannot go on; the message says what to do."""

    permanent = True


def render(values: Mapping[str, str], comment: str) -> str:
    """YAML text: ``comment`` lines, then the values (multi-line ones as literal blocks)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.scalarstring import LiteralScalarString

    yaml = YAML(typ="rt", pure=True)
    data = {k: LiteralScalarString(v) if "\n" in v else v for k, v in values.items()}
    out = io.StringIO()
    yaml.dump(data, out)
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    return header + out.getvalue()


def write_private(path: Path, text: str, *, force: bool, option: str = "--force") -> None:
    """Write ``text`` to ``path`` readable by its owner only; SetupError if it exists and
    not ``force``."""
    if path.exists() and not force:
        raise SetupError(
            f"{path} exists: pass {option} to replace it (its App or secret stops "
            "working for prbot)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_url(value: str, option: str) -> str:
    """``value`` of ``option`` as an http(s) URL without a trailing slash, or SetupError."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SetupError(f"{option} {value!r}: must be an http(s) URL")
    return value.rstrip("/")
