"""One way to say an error is permanent: ``PrbotError.permanent``, decided where raised."""

from __future__ import annotations

import pytest
from gitlab.exceptions import GitlabGetError

from prbot.automation.errors import DefinitionError, InputError, PathError, RenderError
from prbot.engine.definitions import UnknownAutomation
from prbot.engine.providers import ScmNotConfigured
from prbot.errors import (
    DescribedError,
    PermanentError,
    PrbotError,
    describe,
    did_you_mean,
    is_permanent,
    redact,
    redact_url,
    retry_after,
)
from prbot.scm.github.client import _status_error
from prbot.scm.gitlab.errors import translate
from prbot.scm.port import NotFound, RateLimited, ScmError, ScmUnavailable
from prbot.settings import ConfigError


@pytest.mark.parametrize(
    "exc",
    [
        DefinitionError([]),
        InputError([]),
        RenderError("x"),
        PathError("x"),
        PermanentError("x"),
        ScmNotConfigured("x"),
        UnknownAutomation("x"),
        ConfigError(["x"]),
        ScmError("x", permanent=True),
    ],
)
def test_permanent_where_raised(exc: BaseException) -> None:
    assert is_permanent(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ScmUnavailable("x"),
        NotFound("x"),
        ScmError("x"),
        RateLimited("x", reset_in=3),
        ValueError("not ours: never known to be permanent"),
        PrbotError("x"),
    ],
)
def test_worth_a_retry(exc: BaseException) -> None:
    assert not is_permanent(exc)


def test_per_instance_does_not_change_the_class() -> None:
    assert is_permanent(ScmError("x", permanent=True))
    assert not is_permanent(ScmError("y"))
    assert not ScmError.permanent


def test_rate_limited_says_how_long() -> None:
    assert retry_after(RateLimited("slow down", reset_in=42.0)) == 42.0
    assert retry_after(ScmUnavailable("x")) is None
    assert retry_after(RuntimeError("x")) is None


def test_described_error_carries_the_raisers_decision() -> None:
    text = describe(InputError([]))
    wrapped = DescribedError(text, permanent=True, retry_after=5.0)
    assert (is_permanent(wrapped), retry_after(wrapped), describe(wrapped)) == (True, 5.0, text)


def test_describe_names_the_cause_of_a_permanent_error() -> None:
    try:
        try:
            raise KeyError("run_id")
        except KeyError as exc:
            raise PermanentError("payload has no run_id") from exc
    except PermanentError as exc:
        assert describe(exc) == "KeyError: payload has no run_id"


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (401, True), (403, True), (404, False), (422, False)]
)
def test_github_answers_decide_at_the_source(status: int, permanent: bool) -> None:
    assert is_permanent(_status_error("GET /x", status, "nope", None)) is permanent


@pytest.mark.parametrize(
    ("status", "permanent"), [(401, True), (403, True), (404, False), (409, False), (500, False)]
)
def test_gitlab_answers_decide_at_the_source(status: int, permanent: bool) -> None:
    err = translate(GitlabGetError("nope", response_code=status), "get project", ["tok"])
    assert is_permanent(err) is permanent


def test_redaction() -> None:
    assert redact("token abc and abcdef", ["abc", "abcdef"]) == "token *** and ***"
    # a secret this short is hidden where it stands alone, not inside every word
    assert redact("s has no attribute 's': x=s.", ["s"]) == "*** has no attribute '***': x=***."
    assert redact("pin 1234 in a1234b", ["1234"]) == "pin *** in a***b"  # 4 and longer: anywhere
    assert redact_url("postgresql://u:pw@db/prbot") == "postgresql://***@db/prbot"
    assert redact_url("sqlite:///var/prbot.db") == "sqlite:///var/prbot.db"
    # libpq also takes the password in the query: hidden there too, the rest kept
    assert (
        redact_url("postgresql://u@db/p?sslmode=require&password=pw&sslpassword=k#x")
        == "postgresql://***@db/p?sslmode=require&password=***&sslpassword=***#x"
    )
    assert did_you_mean("PROT", ["PORT", "HOST"]) == " (did you mean 'PORT'?)"
    assert did_you_mean("zzz", ["PORT"]) == ""
