"""Logging: one line per event, JSON lines or text, with secrets redacted.

Redaction happens in a handler filter, so every record that reaches our handler is
cleaned whichever logger emitted it (aiohttp, gidgethub, httpx, ours): configured secret
values first, then anything that looks like a credential (Authorization values, GitHub
and GitLab tokens, JWTs, PEM keys, URL passwords and token query parameters).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from prbot.config import Settings

MASK = "***"

# attributes every LogRecord has; anything else on a record came from ``extra=``
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

_CREDENTIAL_PATTERNS: tuple[tuple[re.Pattern[str], Any], ...] = (
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|private-token|x-gitlab-token|x-api-key)"
            r"""(["']?\s*[:=]\s*["']?)(?:(bearer|token|basic)\s+)?[^\s"',;]+"""
        ),
        lambda m: f"{m[1]}{m[2]}{m[3] + ' ' if m[3] else ''}{MASK}",
    ),
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
            re.S,
        ),
        MASK,
    ),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})"), MASK),
    (re.compile(r"\bgl[a-z]{2,6}-[A-Za-z0-9_\-]{20,}"), MASK),
    (re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"), MASK),
    (re.compile(r"(?i)([?&](?:private_token|access_token|job_token|token)=)[^&\s]+"), r"\1" + MASK),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
)


class Redactor:
    """Replaces configured secrets (longest first, in one pass) and credential-looking
    values in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, unique))) if unique else None

    def __call__(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(MASK, text)
        for pattern, replacement in _CREDENTIAL_PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class RedactingFilter(logging.Filter):
    """Renders each record's message (msg % args), extra string fields and traceback,
    and redacts them, before any formatter sees the record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        for key, value in vars(record).items():
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _time(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            line.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...`` on one line (tracebacks indented)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_time(record), record.levelname, f"{record.name}:", record.getMessage()]
        parts += [f"{k}={v}" for k, v in extra_fields(record).items()]
        text = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n  " + record.exc_text.replace("\n", "\n  ")
        return text


def make_handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter(settings.secret_values()))
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    return handler


def setup_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Install prbot's handler on the root logger (replacing an earlier one of ours)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_prbot", False)]:
        root.removeHandler(old)
    handler = make_handler(settings, stream)
    handler._prbot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level_number)
    # one line per delivery comes from the intake; aiohttp's access log would double it
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler
