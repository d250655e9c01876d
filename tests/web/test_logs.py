"""Logging: JSON lines with extra fields, text lines, and the redaction filter (configured
secrets and credential-looking values, in messages, args, extras and tracebacks)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prbot.logs import SAFE, JsonFormatter, RedactingFilter, Redactor, info_line, setup_logging
from prbot.settings import Secret

from .conftest import make_settings

SECRETS = {
    "webhook_secrets": (Secret("hook-secret-aaaa"), Secret("hook-secret-old")),
    "gitlab_webhook_secrets": (Secret("gl-hook-bbbb"),),
    "github_token": Secret("plain-gh-token-cccc"),
    "api_token": Secret("api-token-dddd"),
}


@pytest.fixture
def restore_root() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_json_lines_with_extra_fields(restore_root: object) -> None:
    stream = io.StringIO()
    setup_logging(make_settings(log_format="json", log_level="debug"), stream)
    log = logging.getLogger("prbot.test")
    log.info(
        "delivery %s",
        "accepted",
        extra={"delivery_id": "d-1", "platform": "github", "event": "push", "job_id": 7},
    )
    [line] = lines(stream)
    record = json.loads(line)
    assert record["message"] == "delivery accepted"
    assert (record["level"], record["logger"]) == ("info", "prbot.test")
    assert record["time"].endswith("Z")
    assert (record["delivery_id"], record["platform"], record["event"], record["job_id"]) == (
        "d-1",
        "github",
        "push",
        7,
    )


def test_text_lines(restore_root: object) -> None:
    stream = io.StringIO()
    setup_logging(make_settings(log_format="text"), stream)
    logging.getLogger("prbot.test").warning("slow", extra={"latency_ms": 12.5})
    [line] = lines(stream)
    assert "WARNING prbot.test: slow latency_ms=12.5" in line


def test_setup_is_idempotent_and_levels_apply(restore_root: object) -> None:
    stream = io.StringIO()
    setup_logging(make_settings(log_level="warn"), stream)
    setup_logging(make_settings(log_level="warn"), stream)
    logging.getLogger("prbot.test").info("hidden")
    logging.getLogger("prbot.test").error("shown")
    assert len(lines(stream)) == 1


def test_configured_secrets_are_redacted_everywhere(restore_root: object) -> None:
    stream = io.StringIO()
    settings = make_settings(log_format="json", **SECRETS)
    setup_logging(settings, stream)
    log = logging.getLogger("prbot.test")
    log.info("secret in message hook-secret-aaaa and gl-hook-bbbb")
    log.info("secret in args %s %r", "api-token-dddd", "hook-secret-old")
    log.info("secret in extra", extra={"detail": "token=plain-gh-token-cccc"})
    try:
        raise RuntimeError("failed with api-token-dddd")
    except RuntimeError:
        log.exception("boom")
    text = stream.getvalue()
    for value in settings.secret_values():
        assert value not in text
    assert text.count("***") >= 6
    for line in lines(stream):
        json.loads(line)  # still one valid JSON object per line (tracebacks included)


@pytest.mark.parametrize(
    "leak",
    [
        "Authorization: Bearer abc.def.ghi",
        "authorization=token 0123456789abcdef",
        '{"Authorization": "Basic dXNlcjpwYXNz"}',
        "PRIVATE-TOKEN: sometoken123",
        "X-Gitlab-Token: sometoken123",
        "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "ghs_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "glpat-ABCDEFGHIJKLMNOPQRST",
        "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjEyM30.c2lnbmF0dXJlLXBhcnQ",
        "https://api.example.com/x?private_token=abcdef&page=2",
        "postgresql://prbot:dbpassword@db.internal/prbot",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_credential_looking_values_are_redacted(leak: str) -> None:
    secret_part = {
        "Authorization: Bearer abc.def.ghi": "abc.def.ghi",
        "authorization=token 0123456789abcdef": "0123456789abcdef",
        '{"Authorization": "Basic dXNlcjpwYXNz"}': "dXNlcjpwYXNz",
        "PRIVATE-TOKEN: sometoken123": "sometoken123",
        "X-Gitlab-Token: sometoken123": "sometoken123",
        "https://api.example.com/x?private_token=abcdef&page=2": "abcdef",
        "postgresql://prbot:dbpassword@db.internal/prbot": "dbpassword",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----": "MIIEabc",
    }.get(leak, leak)
    out = Redactor()(f"request failed: {leak} (retrying)")
    assert secret_part not in out
    assert "***" in out and out.startswith("request failed: ") and out.endswith(" (retrying)")


def test_caplog_with_json_formatter_and_filter(caplog: pytest.LogCaptureFixture) -> None:
    caplog.handler.addFilter(RedactingFilter(["s3cr3t-value"]))
    caplog.handler.setFormatter(JsonFormatter())
    with caplog.at_level(logging.INFO, logger="prbot.test"):
        logging.getLogger("prbot.test").info(
            "verifying with %s",
            "s3cr3t-value",
            extra={"header": "Authorization: Bearer s3cr3t-value"},
        )
    assert "s3cr3t-value" not in caplog.text
    record = json.loads(caplog.text.strip().splitlines()[-1])
    assert record["message"] == "verifying with ***"
    assert record["header"] == "Authorization: Bearer ***"


# -- the cheap paths of the filter must redact exactly what a full scan does

FRAGMENTS = [
    "Authorization: Bearer abc.def.ghi",
    "AUTHORIZATION=token 0123456789abcdef",
    "Proxy-Authorization: Basic dXNlcjpwYXNz",
    "private-token: sometoken123",
    "X-GITLAB-TOKEN=sometoken123",
    "x-api-key: k-123",
    "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "glpat-ABCDEFGHIJKLMNOPQRST",
    "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjEyM30.c2lnbmF0dXJlLXBhcnQ",
    "?access_token=abcdef&page=2",
    "&TOKEN=xyz",
    "postgresql://prbot:dbpassword@db.internal/prbot",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
    "hook-secret-aaaa",
    "api-token-dddd",
    "to\u212aen=abc",  # KELVIN SIGN: the regex's case folding goes beyond ASCII
    "authorızation: x",
    "delivery accepted",
    "pull_request",
    " ",
    ":",
    "=",
    "@",
    "/",
]


def full_scan(text: str, secrets: list[str]) -> str:
    """What the filter did before it had cheap paths: every pattern over every string."""
    from prbot.logs import _CREDENTIAL_PATTERNS, MASK

    unique = sorted(set(secrets), key=len, reverse=True)
    text = re.compile("|".join(map(re.escape, unique))).sub(MASK, text)
    for pattern, replacement in _CREDENTIAL_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), max_size=8))
def test_redactor_matches_a_full_scan(parts: list[str]) -> None:
    secrets = ["hook-secret-aaaa", "api-token-dddd", "gl-hook-bbbb"]
    text = "".join(parts)
    assert Redactor(secrets)(text) == full_scan(text, secrets)


def test_safe_fields_are_not_scanned_others_are(restore_root: object) -> None:
    stream = io.StringIO()
    setup_logging(make_settings(log_format="json", **SECRETS), stream)
    logging.getLogger("prbot.test").info(
        "delivery %s",
        "accepted",
        extra={
            "platform": "github",
            "vouched": "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",  # the caller's word
            "action": "token=api-token-dddd",
            "events": 1,
            SAFE: frozenset({"platform", "vouched"}),
        },
    )
    [line] = lines(stream)
    record = json.loads(line)
    assert record["vouched"] == "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"  # skipped
    assert record["action"] == "token=***" and record["events"] == 1
    assert SAFE not in record and record["message"] == "delivery accepted"


def only_prbot_handler(root: logging.Logger) -> None:
    # pytest's own log capture sits on the root logger: with it there, info_line takes
    # the plain path (tested below); these tests want the fast one
    root.handlers[:] = [h for h in root.handlers if getattr(h, "_prbot", False)]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_info_line_writes_what_logger_info_would(
    restore_root: logging.Logger, log_format: str
) -> None:
    stream = io.StringIO()
    setup_logging(make_settings(log_format=log_format, **SECRETS), stream)
    only_prbot_handler(restore_root)
    log = logging.getLogger("prbot.web.intake")
    fields = {
        "platform": "github",
        "delivery_id": "d-hook-secret-aaaa",  # a sender's value: scanned
        "event": "pull_request",
        "events": 2,
        "latency_ms": 1.25,
    }
    safe = frozenset({"platform", "event"})
    info_line(log, "delivery accepted", fields, safe)
    log.info("delivery %s", "accepted", extra={**fields, SAFE: safe})
    fast, slow = lines(stream)
    # the same line but for the time (a millisecond may pass between the two)
    drop_time = (
        (lambda x: {**json.loads(x), "time": ""})
        if log_format == "json"
        else (lambda x: x.split(" ", 1)[1])
    )
    assert drop_time(fast) == drop_time(slow)
    assert "hook-secret-aaaa" not in fast and "d-***" in fast


def test_info_line_respects_the_level(restore_root: logging.Logger) -> None:
    stream = io.StringIO()
    setup_logging(make_settings(log_level="warn"), stream)
    only_prbot_handler(restore_root)
    info_line(logging.getLogger("prbot.web.intake"), "delivery accepted", {"a": 1}, frozenset())
    assert lines(stream) == []


def test_info_line_goes_through_logging_when_another_handler_listens(
    restore_root: logging.Logger,
) -> None:
    stream = io.StringIO()
    setup_logging(make_settings(log_format="json", **SECRETS), stream)
    only_prbot_handler(restore_root)
    seen: list[logging.LogRecord] = []
    other = logging.Handler()
    other.emit = seen.append  # type: ignore[method-assign]
    restore_root.addHandler(other)
    info_line(
        logging.getLogger("prbot.web.intake"),
        "delivery accepted",
        {"delivery_id": "api-token-dddd"},
        frozenset(),
    )
    [record] = seen  # the other handler got a real record with the fields
    assert record.getMessage() == "delivery accepted"
    [line] = lines(stream)  # and ours wrote the line, redacted as ever
    assert json.loads(line)["delivery_id"] == "***"


async def test_on_a_loop_lines_are_written_once_a_turn_in_order(
    restore_root: logging.Logger,
) -> None:
    stream = io.StringIO()
    setup_logging(make_settings(log_format="json"), stream)
    only_prbot_handler(restore_root)
    log = logging.getLogger("prbot.web.intake")
    info_line(log, "delivery accepted", {"n": 1}, frozenset())
    info_line(log, "delivery accepted", {"n": 2}, frozenset())
    assert lines(stream) == []  # waiting for the end of this turn of the loop
    log.warning("something else")  # a plain record writes what waits first
    info_line(log, "delivery accepted", {"n": 3}, frozenset())
    await asyncio.sleep(0)
    got = [json.loads(x) for x in lines(stream)]
    assert [x.get("n", x["message"]) for x in got] == [1, 2, "something else", 3]
