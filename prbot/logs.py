"""Logging: one line per event, JSON lines or text, with secrets redacted.

Redaction happens in a handler filter, so every record that reaches our handler is
cleaned whichever logger emitted it (aiohttp, gidgethub, httpx, ours): configured secret
values first, then anything that looks like a credential (Authorization values, GitHub
and GitLab tokens, JWTs, PEM keys, URL passwords and token query parameters).

The webhook intake logs a line per delivery, so the filter is on the hot path: it scans
only strings (never ints or floats), skips the extra fields a caller names in
``extra[SAFE]`` (values it made itself or validated, e.g. the platform, the outcome, a
UUID delivery id), and runs the credential patterns only over text holding one of the
substrings each pattern needs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable
from typing import Any, NamedTuple, TextIO

from prbot.settings import Settings

MASK = "***"
# extra key: the names of the other extra fields the caller vouches hold no secret and no
# credential (made by prbot itself, or validated: see prbot.web.intake). Never logged.
SAFE = "_safe"

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


# Substrings without which no credential pattern above can match (the (?i) ones in the
# lowered text); each pattern needs one of them. Checked first: most log text has none.
_NEEDLES = ("-----BEGIN", "gh", "github_pat_", "gl", "eyJ", "://")
_NEEDLES_ANY_CASE = ("authorization", "token", "x-api-key")


def _may_hold_credential(text: str) -> bool:
    if not text.isascii():
        return True  # case folding beyond ASCII is the regex's business: scan
    for needle in _NEEDLES:  # plain loops: any() over a generator costs more than the test
        if needle in text:
            return True
    lowered = text.lower()
    for needle in _NEEDLES_ANY_CASE:  # noqa: SIM110 (see above)
        if needle in lowered:
            return True
    return False


class Redactor:
    """Replaces configured secrets (longest first, in one pass) and credential-looking
    values in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._secret_values = tuple(unique)
        self._secrets = re.compile("|".join(map(re.escape, unique))) if unique else None

    def __call__(self, text: str) -> str:
        # plain substring checks are much cheaper than the regex: run it only on a hit
        for secret in self._secret_values:
            if secret in text:
                text = self._secrets.sub(MASK, text)  # type: ignore[union-attr]
                break
        if _may_hold_credential(text):
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
        # the message is redacted as rendered: a secret may span the format and an arg
        record.msg = self.redact(record.getMessage())
        record.args = None
        fields = record.__dict__
        extra = fields.keys() - _STANDARD
        if extra:
            safe = fields.get(SAFE)
            for key in extra - safe if isinstance(safe, frozenset | set) else extra:
                value = fields[key]
                if isinstance(value, str):
                    fields[key] = self.redact(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _time(created: float) -> str:
    """ISO 8601 UTC with milliseconds (2024-05-01T12:00:00.123Z); the seconds part is
    formatted once per second, not once per line."""
    whole = int(created)
    return f"{_second(whole)}.{int((created - whole) * 1000):03d}Z"


# json.dumps(line, default=str, ensure_ascii=False), without building an encoder per line
_encode_line = json.JSONEncoder(default=str, ensure_ascii=False).encode


class Line(NamedTuple):
    """One log line's parts, as the formatters render them."""

    created: float
    level: str
    name: str
    message: str
    fields: dict[str, Any]
    exc: str | None = None


class _Formatter(logging.Formatter):
    """Renders a line from plain values (``render``), for a record (``format``) and for
    ``info_line``'s fast path alike, so both give the same line."""

    def __init__(self, pid: int | None = None) -> None:
        super().__init__()
        # with several web processes, which one logged (the record's own process id is
        # not collected: see setup_logging)
        self.pid = pid

    def render(self, line: Line) -> str:
        raise NotImplementedError

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return self.render(
            Line(
                record.created,
                record.levelname,
                record.name,
                record.getMessage(),
                extra_fields(record),
                record.exc_text or None,
            )
        )


class JsonFormatter(_Formatter):
    """One JSON object per line: time, level, logger, message, then the extra fields."""

    def render(self, line: Line) -> str:
        out: dict[str, Any] = {
            "time": _time(line.created),
            "level": line.level.lower(),
            "logger": line.name,
            "message": line.message,
        }
        if self.pid is not None:
            out["pid"] = self.pid
        for key, value in line.fields.items():
            out.setdefault(key, value)
        if line.exc:
            out["exc"] = line.exc
        return _encode_line(out)


class TextFormatter(_Formatter):
    """``time LEVEL logger: message key=value ...`` on one line (tracebacks indented)."""

    def render(self, line: Line) -> str:
        name = line.name if self.pid is None else f"{line.name}[{self.pid}]"
        parts = [_time(line.created), line.level, f"{name}:", line.message]
        parts += [f"{k}={v}" for k, v in line.fields.items()]
        text = " ".join(parts)
        if line.exc:
            text += "\n  " + line.exc.replace("\n", "\n  ")
        return text


class PrbotHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """prbot's handler: redaction (a filter) and one of the formatters above, plus
    ``write_line`` for ``info_line``.

    On an event loop, ``write_line`` lines are written once per turn of the loop, together
    (one system call for a turn's deliveries, not one each); any other record first
    writes what waits, so lines keep their order. ``flush()`` (also at exit) writes them."""

    def __init__(self, stream: TextIO, redacting: RedactingFilter, formatter: _Formatter):
        super().__init__(stream)
        self.addFilter(redacting)
        self.setFormatter(formatter)
        self.redacting = redacting
        self.line_formatter = formatter
        self._waiting: list[str] = []

    def write_line(
        self, name: str, message: str, fields: dict[str, Any], safe: frozenset[str]
    ) -> None:
        redact = self.redacting.redact
        clean = {
            k: redact(v) if k not in safe and isinstance(v, str) else v for k, v in fields.items()
        }
        text = self.line_formatter.render(Line(time.time(), "INFO", name, redact(message), clean))
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock:  # type: ignore[union-attr]
            self._waiting.append(text)
            if loop is None:
                self._write_waiting()
            elif len(self._waiting) == 1:
                loop.call_soon(self.flush)

    def _write_waiting(self) -> None:
        if not self._waiting:
            return
        text = self.terminator.join(self._waiting) + self.terminator
        self._waiting.clear()
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": "log lines lost", "name": "prbot"}))

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_waiting()
        super().flush()

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_waiting()  # earlier lines first
        super().emit(record)


_installed: PrbotHandler | None = None


def _only_ours(logger: logging.Logger, handler: PrbotHandler) -> bool:
    """Whether a record from ``logger`` would reach ``handler`` and nothing else, with no
    logger filter on the way (as ``Logger.callHandlers`` walks them)."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return False
        if current.handlers and (len(current.handlers) != 1 or current.handlers[0] is not handler):
            return False
        if not current.propagate:
            break
        current = current.parent
    return handler.level <= logging.INFO


def info_line(
    logger: logging.Logger, message: str, fields: dict[str, Any], safe: frozenset[str]
) -> None:
    """``logger.info(message, extra={**fields, SAFE: safe})``, the same line with the same
    redaction, at a fraction of the cost when prbot's handler is the only one: no
    LogRecord, no caller lookup, no filter pass over every attribute. For the lines that
    run once per webhook delivery (a third of the intake's time went to its one log line
    through the logging machinery). With any other handler or filter installed (tests'
    log capture, an embedder's), it is plain ``logger.info``."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _installed
    if handler is not None and _only_ours(logger, handler):
        handler.write_line(logger.name, message, fields, safe)
    else:
        logger.info(message, extra={**fields, SAFE: safe})


def make_handler(settings: Settings, stream: TextIO | None = None) -> PrbotHandler:
    pid = os.getpid() if settings.web_processes > 1 else None
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    return PrbotHandler(
        stream or sys.stderr, RedactingFilter(settings.secret_values()), formatter(pid)
    )


def setup_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Install prbot's handler on the root logger (replacing an earlier one of ours)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_prbot", False)]:
        root.removeHandler(old)
    handler = make_handler(settings, stream)
    handler._prbot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    global _installed
    _installed = handler
    root.setLevel(settings.log_level_number)
    # our lines show no process or thread: skip collecting them for every record (the
    # logging HOWTO's "Optimization"; os.getpid() is a system call per record)
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    # one line per delivery comes from the intake; aiohttp's access log would double it
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler
